# The preprocessing a user would otherwise write in Python, timed on the same inputs as
# bench/preprocess_bench.cpp: Pillow decodes (and converts and resizes) an image, NumPy
# scales and normalises it into the model's layout; a sentence is tokenised with the seed
# model's own regular expression and dictionary and padded with NumPy. Prints one line per
# case, "NAME microseconds-per-item". usage: reference.py INPUTS_DIR EXAMPLES_DIR
import io
import re
import sys
import time

import numpy as np
from PIL import Image

inputs, examples = sys.argv[1], sys.argv[2]
MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def timed(name, work, items):
    best = float("inf")
    for _ in range(5):  # best of five rounds, as Google Benchmark's repetitions would
        start = time.perf_counter()
        for item in items:
            work(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    print(f"{name} {best * 1e6:.2f}")


def grey28(data):  # Fashion-MNIST: grey, 28 x 28, pixel / 255, NCHW
    image = Image.open(io.BytesIO(data)).convert("L")
    if image.size != (28, 28):
        image = image.resize((28, 28), Image.BILINEAR)
    return (np.asarray(image, np.float32) / 255.0)[None, :, :]


def rgb224(data):  # an ImageNet classifier: RGB, 224 x 224, mean/std, NCHW
    image = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.BILINEAR)
    values = np.asarray(image, np.float32).transpose(2, 0, 1) / 255.0
    return (values - MEAN) / STD


def read(path):
    with open(path, "rb") as f:
        return f.read()


vocabulary = {line.rstrip("\n"): i for i, line in enumerate(open(f"{examples}/models/text-vocab.txt"))}
sentences = open(f"{examples}/models/text-heldout.txt", encoding="utf-8").read().splitlines()


def tokens(text):
    ids = [vocabulary.get(w, 1) for w in re.findall(r"[a-z0-9]+", text.lower())][:32]
    row = np.zeros(32, np.int64)
    row[:len(ids)] = ids
    return row


timed("png_28_grey", grey28, [read(f"{examples}/images/ankle-boot.png")] * 2000)
timed("jpeg_112_rgb_to_28_grey", grey28, [read(f"{examples}/images/trouser.jpg")] * 2000)
timed("png_256_rgb_to_224", rgb224, [read(f"{inputs}/photo.png")] * 100)
timed("jpeg_256_rgb_to_224", rgb224, [read(f"{inputs}/photo.jpg")] * 100)
timed("sentence_32_ids", tokens, sentences)
