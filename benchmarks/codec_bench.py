"""Codec stage benchmark at the Llama2-7B q,v r=16 adapter size (EcoLoRA §3.4–3.5).

For each density p: Golomb–Rice encode and decode time of the kept positions
(median of a few repeats), the bits per position against the Rice expectation
and the geometric entropy bound, and the time of top-k + residual bookkeeping
with separate A and B groups. Prints a markdown table.

    python benchmarks/codec_bench.py [--repeats 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from fl_core.codec.golomb import (
    decode_positions,
    encode_positions,
    entropy_bits_per_position,
    expected_bits_per_position,
    rice_parameter,
)
from fl_core.codec.sparsify import sparsify_with_residual

LAYERS, MODULES, RANK, HIDDEN = 32, 2, 16, 4096
BLOCK = RANK * HIDDEN
"""Elements of one LoRA factor (A is r x 4096, B is 4096 x r)."""
LENGTH = LAYERS * MODULES * 2 * BLOCK  # 8,388,608
DENSITIES = (0.05, 0.1, 0.25, 0.5, 0.6, 0.95)


def _median_s(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _factor_groups() -> tuple[torch.Tensor, torch.Tensor]:
    """Flat positions of every A and every B entry, laid out layer by layer, module by module, A then B."""
    blocks = torch.arange(LENGTH, dtype=torch.int64).reshape(LAYERS * MODULES, 2, BLOCK)
    return blocks[:, 0].reshape(-1), blocks[:, 1].reshape(-1)


def _row(density: float, update: torch.Tensor, residual: torch.Tensor, repeats: int) -> dict[str, float]:
    a_positions, b_positions = _factor_groups()
    groups = [(a_positions, density), (b_positions, density)]
    result = sparsify_with_residual(update, residual, groups)
    indices = result.indices.numpy()
    encoded = encode_positions(indices, LENGTH)
    assert np.array_equal(decode_positions(encoded, LENGTH), indices)
    encode_s = _median_s(lambda: encode_positions(indices, LENGTH), repeats)
    decode_s = _median_s(lambda: decode_positions(encoded, LENGTH), repeats)
    sparsify_s = _median_s(lambda: sparsify_with_residual(update, residual, groups), max(1, repeats // 2))
    p = indices.size / LENGTH
    bits = 8 * len(encoded) / indices.size
    return {
        "density": density,
        "kept": indices.size,
        "b": rice_parameter(p),
        "bits_per_pos": bits,
        "rice_expected": expected_bits_per_position(p, rice_parameter(p)),
        "entropy": entropy_bits_per_position(p),
        "encode_ms": 1e3 * encode_s,
        "decode_ms": 1e3 * decode_s,
        "melem_per_s": LENGTH / (encode_s + decode_s) / 1e6,
        "topk_residual_ms": 1e3 * sparsify_s,
    }


def _markdown(rows: list[dict[str, float]]) -> str:
    head = ("| p | kept | b | bits/pos | Rice E[bits] | entropy | ratio | encode ms | decode ms "
            "| enc+dec M elem/s | top-k+residual ms |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['density']:.2f} | {r['kept']:,} | {r['b']} | {r['bits_per_pos']:.3f} | {r['rice_expected']:.3f} "
            f"| {r['entropy']:.3f} | {r['bits_per_pos'] / r['entropy']:.3f} | {r['encode_ms']:.1f} "
            f"| {r['decode_ms']:.1f} | {r['melem_per_s']:.0f} | {r['topk_residual_ms']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    update = torch.randn(LENGTH, generator=generator) * 1e-3
    residual = torch.randn(LENGTH, generator=generator) * 1e-4
    rows = [_row(density, update, residual, args.repeats) for density in DENSITIES]
    print(f"{LENGTH:,} elements (Llama2-7B q,v, r={RANK}), torch threads={args.threads}, "
          f"median of {args.repeats} repeats\n")
    print(_markdown(rows))


if __name__ == "__main__":
    main()
