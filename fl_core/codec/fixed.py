"""Position stage: kept positions as fixed-width integers (the "w/o Encoding" ablation, Table 3).

The paper stores each position "with a fixed number of 16 bits" (§3.5). A flat segment is
longer than 2^16, so a 16-bit field cannot hold an absolute position: we cut the covered
slice into blocks of 2^w elements (w = 16) and write each kept position relative to the
start of its block, ``i - 2^w * floor(i / 2^w)``, after a table of per-block counts:

    counts   n_blocks * u32   kept positions in each block (only when n_blocks > 1)
    offsets  count * uW       i mod 2^w, block by block, ascending (little-endian)

with n_blocks = ceil(length / 2^w). This is the paper's per-tensor index: a Llama2-7B
LoRA A (16 x 4096) or B (4096 x 16) holds exactly 2^16 = 65,536 entries, so each
aligned block is one tensor, and "16 bits per position" holds without any table. The
framing costs 4 bytes per 2^16 elements (0.003 % of the same slice sent dense in fp16). With
w = 32 and length <= 2^32 there is one block and no table: the 32-bit format of
earlier runs, byte for byte.
"""
from __future__ import annotations

import numpy as np

from fl_core.errors import CodecError

_COUNT = np.dtype("<u4")


class FixedWidthPositions:
    """Positions as ``bits``-bit little-endian integers relative to 2^bits-element blocks."""

    def __init__(self, name: str, stage_id: int, bits: int) -> None:
        if bits not in (16, 32):
            raise ValueError(f"fixed-width positions are 16 or 32 bits, not {bits}")
        self.name, self.stage_id, self.bits = name, stage_id, bits
        self.block = 1 << bits
        self.dtype = np.dtype(f"<u{bits // 8}")

    def n_blocks(self, length: int) -> int:
        """ceil(length / 2^bits): how many count fields a multi-block encoding carries."""
        return -(-length // self.block)

    def _table(self, length: int) -> bool:
        if length > self.block and self.bits >= 32:
            raise CodecError(f"{self.bits}-bit positions cannot cover a vector of {length} elements")
        return self.n_blocks(length) > 1

    def encode(self, indices: np.ndarray, length: int) -> bytes:
        """Counts per block (when more than one block), then each position modulo 2^bits."""
        idx = np.asarray(indices, dtype=np.int64)
        offsets = (idx & (self.block - 1)).astype(self.dtype).tobytes()
        if not self._table(length):
            return offsets
        counts = np.bincount(idx >> self.bits, minlength=self.n_blocks(length)).astype(_COUNT)
        return counts.tobytes() + offsets

    def decode(self, data: bytes, length: int) -> np.ndarray:
        """Exact inverse of :meth:`encode`; ``CodecError`` when sizes, ranges or order are off."""
        width = self.dtype.itemsize
        if self._table(length):
            n_blocks = self.n_blocks(length)
            if len(data) < 4 * n_blocks:
                raise CodecError(f"fixed-width position block of {len(data)} bytes lacks its {n_blocks} counts")
            counts = np.frombuffer(data, dtype=_COUNT, count=n_blocks).astype(np.int64)
            sizes = np.minimum(self.block, length - self.block * np.arange(n_blocks))
            if np.any(counts > sizes) or int(counts.sum()) * width != len(data) - 4 * n_blocks:
                raise CodecError("fixed-width position counts do not match their blocks or the bytes that follow")
            body, starts = data[4 * n_blocks :], np.repeat(np.arange(n_blocks, dtype=np.int64) << self.bits, counts)
        else:
            if len(data) % width:
                raise CodecError(f"fixed-width position block of {len(data)} bytes is not a multiple of {width}")
            body, starts = data, 0
        idx = np.frombuffer(body, dtype=self.dtype).astype(np.int64) + starts
        if idx.size > length or (idx.size and (idx.max() >= length or np.any(np.diff(idx) <= 0))):
            raise CodecError("fixed-width positions are out of range or not strictly increasing")
        return idx
