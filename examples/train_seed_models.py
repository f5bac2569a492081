#!/usr/bin/python3
"""Trains the three seed models (MLP, CNN, text classifier) and exports them to ONNX, with reference data.

Run with Debian's python (torch, onnx, numpy from python3-torch / python3-onnx), never at
serving time; its outputs are committed under examples/models/:

  fashion-mlp.onnx   image FP32 [N, 28, 28] → probabilities FP32 [N, 10]
                     Flatten, Dense 64 + ReLU, Dense 64 + ReLU, Dense 10 + softmax
  fashion-cnn.onnx   image FP32 [N, 1, 28, 28] → probabilities FP32 [N, 10]
                     Conv 32 3×3 + ReLU, MaxPool 2, Conv 64 3×3 + ReLU, MaxPool 2,
                     Dense 64 + ReLU, Dense 10 + softmax
  text-classifier.onnx  tokens INT64 [N, 32] → probability FP32 [N, 1]
                     Embedding 5000×32, global average pooling, Dense 64 + ReLU,
                     Dense 1 + sigmoid

Fashion-MNIST comes from Debian's dataset-fashion-mnist; pixels are scaled to [0, 1].
The text task is real text that every Debian machine has: the one-line descriptions of
Debian 12's packages (`apt-cache dumpavail`), labelled 1 when the package is a library
(Section libs or libdevel). Tokens: lowercase words, 0 = padding, 1 = unknown word.

For each model it writes <name>.ref.json (shapes), <name>.input.bin and <name>.output.bin
(the first 16 test examples and torch's outputs, little-endian), and for the text model
text-heldout.tokens.bin / text-heldout.labels.bin (the held-out set), text-heldout.txt (the
same descriptions as text, one per line) and text-vocab.txt.
"""
import gzip
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
MNIST = "/usr/share/datasets/fashion-mnist"
SEQ_LEN = 32
VOCAB = 5000
torch.manual_seed(7)
random.seed(7)
np.random.seed(7)
torch.set_num_threads(2)


def read_idx(name):
    with gzip.open(os.path.join(MNIST, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion():
    x_train = read_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_train = read_idx("train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_test = read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    return x_train, y_train, x_test, y_test


def train(model, x, y, epochs, loss_fn, lr=1e-3, batch=128):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}: loss {total / len(x):.4f}", flush=True)
    model.eval()


class Classifier(nn.Module):
    """A network whose training output is logits and whose exported output is softmax."""

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.export_softmax = False

    def forward(self, x):
        logits = self.body(x)
        return torch.softmax(logits, dim=1) if self.export_softmax else logits


def export(model, example, name, input_name, output_name):
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, example, path, input_names=[input_name], output_names=[output_name],
                      dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                      opset_version=13, do_constant_folding=True)
    return path


def write_reference(name, inputs, outputs, input_name, output_name):
    inputs = np.ascontiguousarray(inputs)
    outputs = np.ascontiguousarray(outputs, dtype=np.float32)
    inputs.astype(inputs.dtype.newbyteorder("<")).tofile(os.path.join(OUT, name + ".input.bin"))
    outputs.astype("<f4").tofile(os.path.join(OUT, name + ".output.bin"))
    with open(os.path.join(OUT, name + ".ref.json"), "w") as f:
        json.dump({"input": input_name, "input_dtype": "INT64" if inputs.dtype == np.int64 else "FP32",
                   "input_shape": list(inputs.shape), "output": output_name,
                   "output_shape": list(outputs.shape)}, f, indent=1)
        f.write("\n")


def accuracy(model, x, y):
    with torch.no_grad():
        predicted = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    return float((predicted == y).mean())


def fashion_models():
    x_train, y_train, x_test, y_test = fashion()
    ce = nn.CrossEntropyLoss()

    print("fashion-mlp", flush=True)
    mlp = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64),
                                   nn.ReLU(), nn.Linear(64, 10)))
    train(mlp, x_train, y_train, 8, ce)
    print(f"  test accuracy {accuracy(mlp, x_test, y_test):.4f}")
    mlp.export_softmax = True
    export(mlp, torch.zeros(1, 28, 28), "fashion-mlp", "image", "probabilities")
    with torch.no_grad():
        write_reference("fashion-mlp", x_test[:16], mlp(torch.from_numpy(x_test[:16])).numpy(),
                        "image", "probabilities")

    print("fashion-cnn", flush=True)
    x_train4, x_test4 = x_train[:, None], x_test[:, None]
    cnn = Classifier(nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 10)))
    train(cnn, x_train4, y_train, 8, ce)
    print(f"  test accuracy {accuracy(cnn, x_test4, y_test):.4f}")
    cnn.export_softmax = True
    export(cnn, torch.zeros(1, 1, 28, 28), "fashion-cnn", "image", "probabilities")
    with torch.no_grad():
        write_reference("fashion-cnn", x_test4[:16], cnn(torch.from_numpy(x_test4[:16])).numpy(),
                        "image", "probabilities")


def package_descriptions():
    text = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True,
                          check=True).stdout
    seen, examples = set(), []
    for record in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", record, re.M))
        name, description = fields.get("Package"), fields.get("Description")
        if not name or not description or name in seen:
            continue
        seen.add(name)
        section = fields.get("Section", "").split("/")[-1]
        examples.append((description, 1 if section in ("libs", "libdevel") else 0))
    random.shuffle(examples)
    return examples


def tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 32)
        self.hidden = nn.Linear(32, 64)
        self.out = nn.Linear(64, 1)

    def forward(self, tokens):
        pooled = self.embedding(tokens).mean(dim=1)  # global average pooling
        return torch.sigmoid(self.out(torch.relu(self.hidden(pooled))))


def text_model():
    print("text-classifier", flush=True)
    examples = package_descriptions()
    split = int(len(examples) * 0.8)
    train_set, heldout = examples[:split], examples[split:]
    counts = {}
    for description, _ in train_set:
        for word in tokenize(description):
            counts[word] = counts.get(word, 0) + 1
    vocab = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:VOCAB - 2]
    index = {w: i + 2 for i, w in enumerate(vocab)}

    def encode(rows):
        tokens = np.zeros((len(rows), SEQ_LEN), dtype=np.int64)
        labels = np.zeros(len(rows), dtype=np.float32)
        for r, (description, label) in enumerate(rows):
            ids = [index.get(w, 1) for w in tokenize(description)][:SEQ_LEN]
            tokens[r, :len(ids)] = ids
            labels[r] = label
        return tokens, labels

    x_train, y_train = encode(train_set)
    x_held, y_held = encode(heldout)
    print(f"  {len(train_set)} training, {len(heldout)} held-out descriptions; "
          f"{y_train.mean():.3f} of them libraries")
    model = TextClassifier()
    bce = nn.BCELoss()
    train(model, x_train, y_train[:, None], 6, bce, lr=3e-3, batch=256)
    with torch.no_grad():
        p = model(torch.from_numpy(x_held)).numpy()[:, 0]
    print(f"  held-out accuracy {float(((p > 0.5) == (y_held > 0.5)).mean()):.4f}")
    export(model, torch.zeros(1, SEQ_LEN, dtype=torch.int64), "text-classifier", "tokens",
           "probability")
    with torch.no_grad():
        write_reference("text-classifier", x_held[:16], model(torch.from_numpy(x_held[:16])).numpy(),
                        "tokens", "probability")
    x_held.astype("<i8").tofile(os.path.join(OUT, "text-heldout.tokens.bin"))
    # The same held-out set as raw text (one description per line): what a client sends to
    # a server that tokenises it (docs/preprocessing.md).
    with open(os.path.join(OUT, "text-heldout.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(description for description, _ in heldout) + "\n")
    y_held.astype(np.uint8).tofile(os.path.join(OUT, "text-heldout.labels.bin"))
    with open(os.path.join(OUT, "text-vocab.txt"), "w") as f:
        f.write("<pad>\n<unk>\n" + "\n".join(vocab) + "\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    which = sys.argv[1:] or ["fashion", "text"]
    if "text" in which:
        text_model()
    if "fashion" in which:
        fashion_models()
