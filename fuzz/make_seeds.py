#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into fuzz/seeds/<target>/.

Small hand-made files of each format (valid ones and near misses); the
targets' real outputs come from a run folder when one is given:
    python3 fuzz/make_seeds.py [RUN_DIR]
where RUN_DIR holds img/ (torchlet train --model lenet), int8/
(torchlet quantize), lenet.tlj (torchlet jit), text/ and graph/ runs.
"""
import gzip
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(magic, dims, data):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def png(w, h, gray=True):
    raw = b"".join(b"\0" + bytes((x * 40 + y * 10) % 256 for x in range(w * (1 if gray else 3))) for y in range(h))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    head = struct.pack(">IIBBBBB", w, h, 8, 0 if gray else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def safetensors(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def gpt2_bytes():
    """GPT-2's printable name of each byte, in byte order."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    names, extra = [], 0
    for b in range(256):
        if b in printable:
            names.append(chr(b))
        else:
            names.append(chr(256 + extra))
            extra += 1
    return names


def main():
    images = idx(0x803, [2, 3, 3], range(18))
    labels = idx(0x801, [2], [3, 7])
    put("idx", "images", images)
    put("idx", "labels", labels)
    put("idx", "images.gz", gzip.compress(images))
    put("idx", "labels.gz", gzip.compress(labels))
    put("idx", "short", images[:-3])

    put("cifar", "cifar10", bytes([3]) + bytes(range(256)) * 12)
    put("cifar", "cifar100", bytes([1, 42]) + bytes(range(256)) * 12)

    put("image", "gray.png", png(4, 3))
    put("image", "rgb.png", png(2, 2, gray=False))
    put("image", "jpeg_header", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9")

    put("labeled_texts", "tsv", "label\ttext\nwork\tThe boss is in.\nscience\tAtoms, mostly.\n")
    put("labeled_texts", "csv", 'label,text\nwork,"a ""quoted"", text"\nscience,plain\n')
    put("corpus", "text", "\x05To be, or not to be:\nthat is the question.\n")

    put("vocab_json", "vocab", json.dumps({"version": 1, "tokens": ["<unk>", "<pad>", "the", "a"],
                                           "num_specials": 2, "default_index": 0}))
    put("bpe_json", "bytes_only", json.dumps({"type": "byte_level_bpe", "version": 1, "merges": [],
                                              "tokens": gpt2_bytes()}))
    put("bpe_json", "one_merge", json.dumps({"type": "byte_level_bpe", "version": 1, "merges": ["t h"],
                                             "tokens": gpt2_bytes() + ["th"]}))

    put("state_dict", "lenet_bias", safetensors({"conv1.bias": ("F32", [6], f32(*range(6)))}))
    put("state_dict", "wrong_shape", safetensors({"conv1.weight": ("F32", [2, 1], f32(1, 2)),
                                                   "fc9.bias": ("F64", [1], struct.pack("<d", 1.0))}))
    put("optim_state", "adam", safetensors(
        {"state.0.exp_avg": ("F32", [3, 2], f32(*range(6))),
         "state.0.exp_avg_sq": ("F32", [3, 2], f32(*range(6))),
         "state.0.step": ("F64", [], struct.pack("<d", 3.0))},
        {"optimizer": "Adam", "param_groups": json.dumps([{"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8,
                                                           "weight_decay": 0.0, "amsgrad": False,
                                                           "params": [0, 1]}])}))
    put("optim_state", "sgd", safetensors(
        {"state.1.momentum_buffer": ("F32", [2], f32(1, 2))},
        {"optimizer": "SGD", "param_groups": json.dumps([{"lr": 0.1, "momentum": 0.9, "dampening": 0.0,
                                                         "weight_decay": 0.0, "nesterov": False,
                                                         "params": [0, 1]}])}))

    # Two [2, 3] leaves, then add, matmul with a transpose, softmax, sum.
    put("ops", "chain", bytes([2, 2, 3] + list(range(8, 14)) + [2, 3, 2] + list(range(20, 26)) +
                              [1, 0, 1, 9, 0, 1, 5, 2, 3, 21, 4, 7]))
    put("ops", "conv", bytes([4, 1, 1, 3, 3] + list(range(9, 18)) + [4, 1, 1, 2, 2, 9, 10, 11, 12] +
                             [26, 0, 1, 1, 1, 0, 0, 1, 1, 1, 27, 2, 2, 2, 2, 1, 0, 0]))
    put("ops", "empty", bytes([2, 0, 3, 1, 5, 9, 17, 0, 1, 0, 19, 1, 1, 0]))

    if len(sys.argv) > 1:
        run = sys.argv[1]
        for kind in ["img", "text", "graph", "int8"]:
            with open(os.path.join(run, kind, "config.json"), "rb") as f:
                put("run_config", kind, f.read())
        for src, target, name in [("graph/model.safetensors", "state_dict", "gcn"),
                                  ("int8/model.safetensors", "quantized_state", "lenet_int8"),
                                  ("lenet.tlj", "jit_script", "lenet")]:
            with open(os.path.join(run, src), "rb") as f:
                put(target, name, f.read())


if __name__ == "__main__":
    main()
