#!/usr/bin/python3
"""Writes the model zoo the CPU backend is tested on: real architectures as a user exports
them (torchvision classifiers, a small ViT, a BERT-style text encoder, LSTM/GRU/RNN text
classifiers, an encoder-decoder with transposed convolutions and upsampling), random
weights with fixed seeds (nothing downloaded), exported by Debian's torch at opset 17.
Each case is an ONNX backend-test directory (model.onnx, test_data_set_0/input_0.pb,
output_0.pb) whose expected output torch computed in float64, for mg-onnx-runner.

usage: make_zoo.py OUT_DIR [NAME...]   (no NAME: every case; prints one line per case)
Deterministic: the same torch gives the same files. Needs python3-torch,
python3-torchvision and python3-onnx (Debian's, hence /usr/bin/python3).
"""
import os
import sys
import warnings

import numpy as np
import torch
import torchvision
from onnx import numpy_helper

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def randomise_batch_norm(model, generator):
    # Fresh BatchNorm layers normalise with mean 0, variance 1: give them real statistics so
    # folding or mis-ordering them would show.
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
    return model


class TextClassifier(torch.nn.Module):
    """Embedding → recurrent layers (batch first) → the last step → logits."""

    def __init__(self, cell, bidirectional, layers=2, vocabulary=100, width=32, hidden=48):
        super().__init__()
        self.embed = torch.nn.Embedding(vocabulary, width)
        kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        self.rnn = kind(width, hidden, num_layers=layers, batch_first=True,
                        bidirectional=bidirectional)
        self.head = torch.nn.Linear(hidden * (2 if bidirectional else 1), 2)

    def forward(self, ids):
        steps, _ = self.rnn(self.embed(ids))
        return self.head(steps[:, -1, :])


class TextEncoder(torch.nn.Module):
    """A small BERT-style encoder: token and position embeddings, two transformer layers
    (GELU, LayerNorm), mean pooling, a classification head."""

    def __init__(self, vocabulary=200, width=64, length=16):
        super().__init__()
        self.tokens = torch.nn.Embedding(vocabulary, width)
        self.positions = torch.nn.Parameter(torch.randn(1, length, width) * 0.02)
        layer = torch.nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=128,
                                                 activation="gelu", batch_first=True,
                                                 dropout=0.0)
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, 3)

    def forward(self, ids):
        x = self.encoder(self.tokens(ids) + self.positions)
        return self.head(self.norm(x).mean(dim=1))


class EncoderDecoder(torch.nn.Module):
    """A small segmentation-style network: strided convolutions down, a transposed
    convolution and two kinds of upsampling back up."""

    def __init__(self):
        super().__init__()
        self.down1 = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                                          torch.nn.ReLU())
        self.down2 = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, stride=2, padding=1),
                                          torch.nn.InstanceNorm2d(32, affine=True), torch.nn.PReLU(32))
        self.down3 = torch.nn.Sequential(torch.nn.Conv2d(32, 64, 3, stride=2, padding=1), torch.nn.ELU())
        self.up1 = torch.nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.up2 = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.up3 = torch.nn.Upsample(scale_factor=2, mode="nearest")
        self.out = torch.nn.Conv2d(32, 2, 1)

    def forward(self, x):
        x = self.down3(self.down2(self.down1(x)))
        x = torch.nn.functional.leaky_relu(self.up1(x), 0.1)
        x = self.up3(self.up2(x)[:, :, :8, :8])
        return self.out(x)


def random_head(vit):
    # torchvision starts a ViT's head at zero: every output would be 0 whatever ran before.
    torch.nn.init.normal_(vit.heads.head.weight, std=0.2)
    return vit


def vision(factory, size=224):
    return lambda: (factory(), torch.randn(1, 3, size, size))


CASES = {
    "resnet18": vision(lambda: torchvision.models.resnet18(weights=None)),
    "mobilenet_v2": vision(lambda: torchvision.models.mobilenet_v2(weights=None)),
    "mobilenet_v3_small": vision(lambda: torchvision.models.mobilenet_v3_small(weights=None)),
    "efficientnet_b0": vision(lambda: torchvision.models.efficientnet_b0(weights=None)),
    "shufflenet_v2_x0_5": vision(lambda: torchvision.models.shufflenet_v2_x0_5(weights=None)),
    "squeezenet1_1": vision(lambda: torchvision.models.squeezenet1_1(weights=None)),
    "densenet121": vision(lambda: torchvision.models.densenet121(weights=None), 96),
    "vit_small": vision(lambda: random_head(torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
        num_classes=10)), 32),
    "text_encoder": lambda: (TextEncoder(), torch.randint(0, 200, (2, 16))),
    "lstm_bidirectional": lambda: (TextClassifier("lstm", True), torch.randint(0, 100, (3, 12))),
    "lstm_forward": lambda: (TextClassifier("lstm", False, layers=1), torch.randint(0, 100, (3, 12))),
    "gru_bidirectional": lambda: (TextClassifier("gru", True), torch.randint(0, 100, (3, 12))),
    "rnn_bidirectional": lambda: (TextClassifier("rnn", True), torch.randint(0, 100, (3, 12))),
    "encoder_decoder": lambda: (EncoderDecoder(), torch.randn(2, 3, 16, 16)),
}


def write_case(out_dir, name):
    seed = sum(ord(c) for c in name)
    torch.manual_seed(seed)
    model, example = CASES[name]()
    randomise_batch_norm(model, torch.Generator().manual_seed(seed))
    model.eval()
    case = os.path.join(out_dir, "zoo_" + name)
    os.makedirs(os.path.join(case, "test_data_set_0"), exist_ok=True)
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}}
    # Gradients stay on: under no_grad, torch 1.13's attention takes a fused fast path that
    # has no ONNX export (and the float64 reference should take the plain path too).
    torch.onnx.export(model, (example,), os.path.join(case, "model.onnx"), opset_version=17,
                      input_names=["input"], output_names=["output"], dynamic_axes=dynamic,
                      do_constant_folding=True)
    reference = model.double()(example.double() if example.is_floating_point() else example).detach()
    with open(os.path.join(case, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(example.numpy(), "input").SerializeToString())
    with open(os.path.join(case, "test_data_set_0", "output_0.pb"), "wb") as f:
        expected = reference.numpy().astype(np.float32)
        f.write(numpy_helper.from_array(expected, "output").SerializeToString())
    print(f"{name}: {os.path.getsize(os.path.join(case, 'model.onnx')) / 1e6:.1f} MB, "
          f"output {list(expected.shape)}, |max| {np.abs(expected).max():.3g}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    names = sys.argv[2:] or list(CASES)
    for name in names:
        write_case(sys.argv[1], name)


if __name__ == "__main__":
    main()
