"""Random valid instructions and programs from a seeded generator, for property tests and fuzzing.

Everything is a pure function of the ``numpy.random.Generator`` passed in, so a seed reproduces a
case exactly.
"""

from __future__ import annotations

import numpy as np

from .calls import Call, Operand
from .encoding import Instr
from .entries import Const, DebugInfo, Tensor
from .program import Program, fingerprint_of
from .table import TABLE, Field, InstrSpec

_SPECIAL_F32 = (0.0, -0.0, 1.0, -2.5, 1e-5, 3.4028234663852886e38, float("inf"), float("-inf"))


def random_value(rng: np.random.Generator, f: Field):
    """A random in-range value for field ``f``, biased towards the edges of its range."""
    if f.is_int:
        edge = rng.integers(4)
        if edge == 0:
            return f.min
        if edge == 1:
            return f.max
        return int(rng.integers(f.min, f.max, endpoint=True))
    if f.kind == "bool":
        return bool(rng.integers(2))
    if f.kind == "f32":
        if rng.integers(2):
            return _SPECIAL_F32[rng.integers(len(_SPECIAL_F32))]
        return float(np.float32(rng.standard_normal() * 10.0 ** rng.integers(-6, 7)))
    return f.choices[rng.integers(len(f.choices))]


def random_instr(rng: np.random.Generator, spec: InstrSpec | None = None) -> Instr:
    """A random valid instruction (of ``spec``, or of a random table row)."""
    spec = spec or TABLE[rng.integers(len(TABLE))]
    return Instr.make(spec.mnemonic, {f.name: random_value(rng, f) for f in spec.fields})


def sample_program(rng: np.random.Generator, n_instrs: int = 12) -> Program:
    """A small program that uses every section: consts of each dtype, tensors, debug and meta."""
    consts, tensors, addr = [], [], 0
    for k, dtype in enumerate(("t2", "i4", "i8", "u8", "i32", "f32", "i64", "f64", "bool")):
        count = int(rng.integers(1, 40))
        lo, hi = {"t2": (-1, 1), "i4": (-7, 7), "u8": (0, 255), "bool": (0, 1)}.get(
            dtype, (-128, 127)
        )
        values = (
            rng.standard_normal(count).astype(np.float32)
            if dtype in ("f32", "f64")
            else rng.integers(lo, hi, size=count, endpoint=True)
        )
        c = Const.from_values(f"c{k}_{dtype}", dtype, values)
        consts.append(c)
        tensors.append(Tensor(c.name, "const", dtype, (count,), "L2", addr))
        addr += len(c.raw) + 64
    scales = Const.from_values("scales", "f32", rng.random(4).astype(np.float32) + 0.5)
    consts.append(scales)
    tensors += [
        Tensor("x", "input", "i8", (1, 4, 4), "L2", addr, scale=0.05, zp=-3),
        Tensor("y", "output", "i32", (2, 4), "L1", 0x100, scales="scales", axis=1),
        Tensor("tmp", "scratch", "f32", (16,), "L1", 0x200),
    ]
    calls = sample_calls(rng)
    instrs = [random_instr(rng) for _ in range(n_instrs)] + [Instr.make("halt")]
    for ins in instrs:  # a call refers to an entry of the table
        if ins.mnemonic == "cl.call":
            ins.fields["call"] = int(rng.integers(len(calls)))
    debug = {  # every other entry per head (heads 0, 2): the debug records of format 2.1
        int(i): DebugInfo(f"isa.op{i}", f'/node/{i} "q" ü', None if k % 2 else k)
        for k, i in enumerate(
            sorted(rng.choice(len(instrs), size=min(4, len(instrs)), replace=False))
        )
    }
    return Program(
        instrs=instrs,
        tensors=tensors,
        consts=consts,
        debug=debug,
        meta={"producer": "imcc samples", "seed": str(int(rng.integers(1 << 30)))},
        target="hetero-cluster",
        fingerprint=fingerprint_of("sample target"),
        calls=calls,
    )


def sample_calls(rng: np.random.Generator) -> list[Call]:
    """Call table entries using every operand and attribute kind."""
    x = Operand("L1", 0x300, "f32", (2, 3))
    return [
        Call("onnx.Relu", [x], [Operand("L1", 0x400, "f32", (2, 3))], {}, 17),
        Call(
            "onnx.Gemm",
            [x, None, Operand("L2", 0x40, "i64", (3,))],
            [Operand("L2", 0x80, "bool", (0, 4)), None],
            {
                "alpha": float(rng.standard_normal()),
                "transB": int(rng.integers(2)),
                "perm": [int(v) for v in rng.integers(-9, 9, size=3)],
                "scales": [0.5, 1.5],
                "mode": "constant",
                "names": ["a", "bé"],
                "value": rng.integers(-5, 5, size=(2, 2)).astype(np.int64),
                "empty": [],
            },
            13,
            "nhwc",
        ),
    ]
