#!/usr/bin/env python3
"""Writes the grpc_session fuzzer's seeds: HTTP/2 frames a gRPC client sends after its
preface (SETTINGS, then calls: HEADERS as HPACK literal fields, DATA with gRPC's 5-byte
message prefix).

usage: make_grpc_session_seeds.py OUT_DIR
"""
import pathlib
import struct
import sys

SERVICE = "/inference.GRPCInferenceService/"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


def literal(name, value):  # "Literal Header Field without Indexing — New Name", no Huffman
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def headers(stream, path, end=False, extra=()):
    fields = [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"),
              (":path", path), ("content-type", "application/grpc"), ("te", "trailers"),
              *extra]
    block = b"".join(literal(n, v) for n, v in fields)
    return frame(1, 0x4 | (0x1 if end else 0), stream, block)


def message(body, flag=0):
    return bytes([flag]) + struct.pack(">I", len(body)) + body


def data(stream, payload, end=True):
    return frame(0, 0x1 if end else 0, stream, payload)


SETTINGS = frame(4, 0, 0)
# A ModelInferRequest: model_name "m" (field 1), one input x FP32 [1] (field 5), 4 raw bytes.
INFER = bytes.fromhex("0a016d2a0e0a01781204465033321a0101") + bytes.fromhex("3204") + b"\0" * 4
SEEDS = {
    "unary_live": SETTINGS + headers(1, SERVICE + "ServerLive") + data(1, message(b"")),
    "unary_infer_with_timeout": SETTINGS + headers(
        1, SERVICE + "ModelInfer", extra=[("grpc-timeout", "100m"), ("authorization", "Bearer k")])
        + data(1, message(INFER)),
    "stream_two_messages": SETTINGS + headers(3, SERVICE + "ModelStreamInfer")
        + data(3, message(INFER), end=False) + data(3, message(INFER) + message(b"\xff")),
    "compressed_and_oversized": SETTINGS + headers(1, SERVICE + "ModelInfer")
        + data(1, message(INFER, flag=1)) + headers(3, SERVICE + "ModelInfer")
        + data(3, b"\0\0\1\0\0", end=False),
    "ping_reset_goaway": SETTINGS + frame(6, 0, 0, b"12345678") + headers(1, SERVICE + "ModelInfer")
        + frame(3, 0, 1, b"\0\0\0\x08") + frame(7, 0, 0, b"\0\0\0\0\0\0\0\0"),
}

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for name, seed in SEEDS.items():
    (out / name).write_bytes(seed)
