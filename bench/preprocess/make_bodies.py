# Writes the request bodies bench/preprocess/run.sh sends to the seed CNN at batch 1, all
# binary tensor extension: the same Fashion-MNIST image as a float tensor (pixel / 255,
# what a client that decodes and normalises itself sends), as its PNG file raw, and as the
# PNG asking for the top class by name; and the text classifier's sentence as ids, raw, and
# raw asking for its class. usage: make_bodies.py OUT_DIR EXAMPLES_DIR
import json, struct, sys

out, examples = sys.argv[1], sys.argv[2]
png = open(f"{examples}/images/ankle-boot.png", "rb").read()
floats = open(f"{examples}/models/fashion-cnn.input.bin", "rb").read()[:784 * 4]

def write(name, inputs, data, outputs=None):
    header = {"inputs": inputs}
    if outputs:
        header["outputs"] = outputs
    text = json.dumps(header, separators=(",", ":")).encode()
    open(f"{out}/{name}.bin", "wb").write(text + data)
    open(f"{out}/{name}.len", "w").write(str(len(text)))

write("tensor", [{"name": "image", "datatype": "FP32", "shape": [1, 1, 28, 28],
                  "parameters": {"binary_data_size": len(floats)}}], floats)
element = struct.pack("<I", len(png)) + png
raw = [{"name": "image", "datatype": "BYTES", "shape": [1],
        "parameters": {"binary_data_size": len(element)}}]
write("png", raw, element)
write("png_label", raw, element,
      [{"name": "probabilities", "parameters": {"classification": 1}}])

# The text classifier: the first held-out description as its token ids (what a client that
# tokenises itself sends) and as the sentence itself, with and without its class by name.
ids = open(f"{examples}/models/text-heldout.tokens.bin", "rb").read()[:32 * 8]
sentence = open(f"{examples}/models/text-heldout.txt", encoding="utf-8").readline().rstrip("\n")
write("ids", [{"name": "tokens", "datatype": "INT64", "shape": [1, 32],
               "parameters": {"binary_data_size": len(ids)}}], ids)
text = sentence.encode()
element = struct.pack("<I", len(text)) + text
raw = [{"name": "tokens", "datatype": "BYTES", "shape": [1],
        "parameters": {"binary_data_size": len(element)}}]
write("sentence", raw, element)
write("sentence_label", raw, element,
      [{"name": "probability", "parameters": {"classification": 1}}])
