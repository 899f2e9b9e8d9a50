"""canonicalize on a long chain of foldable ops: the time must grow linearly with the chain.

Builds IR with a chain of N ``onnx.Add`` ops on constants (each folds into a constant that the
next one reads) ending in one add of the function's argument, runs ``canonicalize`` and prints
the time for N = 5,000, 10,000 and 20,000, and the ratio of the largest to the smallest (the
target: 4x the ops within 5x the time).

    python bench/canonicalize_chain.py
"""

from __future__ import annotations

import sys
import time

from imcc.compiler import passes  # noqa: F401  (registers the passes)
from imcc.compiler.ir import parse_module
from imcc.compiler.pm import PassManager, parse_pipeline

SIZES = (5_000, 10_000, 20_000)
T = "tensor<4xf32>"


def chain(n: int) -> str:
    lines = [
        '"func.func"() ({',
        f"^bb0(%x: {T}):",
        f'  %c0 = "onnx.Constant"() {{value = dense<1.0> : {T}}} : () -> {T}',
        *(f'  %c{i} = "onnx.Add"(%c{i - 1}, %c0) : ({T}, {T}) -> {T}' for i in range(1, n + 1)),
        f'  %y = "onnx.Add"(%x, %c{n}) : ({T}, {T}) -> {T}',
        f'  "func.return"(%y) : ({T}) -> ()',
        f'}}) {{function_type = ({T}) -> {T}, sym_name = "main"}} : () -> ()',
    ]
    return "\n".join(lines)


def main() -> int:
    times = {}
    for n in SIZES:
        module = parse_module(chain(n))
        start = time.perf_counter()
        PassManager(parse_pipeline("canonicalize")).run(module)
        times[n] = time.perf_counter() - start
        left = sum(1 for _ in module.walk())
        print(f"{n:>7,} ops: {times[n]:6.2f} s ({left} ops left)")
    ratio = times[SIZES[-1]] / times[SIZES[0]]
    size_ratio = SIZES[-1] // SIZES[0]
    met = "met" if ratio <= 5 else "NOT met"
    print(f"{size_ratio}x the ops took {ratio:.2f}x the time (target <= 5x): {met}")
    print("reproduce: python bench/canonicalize_chain.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
