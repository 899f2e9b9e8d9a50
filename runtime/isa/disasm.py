"""The disassembler: a `Program` back to assembly text that assembles to identical bytes.

Every field is printed by name in table order, addresses in hex; f32 values use the shortest text
that reads back as the same binary32; constant blobs are printed inline.
"""

from __future__ import annotations

import json

import numpy as np

from .calls import call_to_json
from .encoding import Instr
from .entries import Const, Tensor
from .program import Program
from .table import BY_MNEMONIC, Field


def format_f32(value: float) -> str:
    """Shortest decimal text that parses back to the same float32."""
    return str(np.float32(value))


def format_value(f: Field, value: object) -> str:
    """One field value as assembly text."""
    if f.kind == "addr":
        return f"0x{value:x}"
    if f.kind == "bool":
        return "true" if value else "false"
    if f.kind == "f32":
        return format_f32(value)
    return str(value)


def format_instr(ins: Instr) -> str:
    """``mnemonic field=value, ...`` with every field, in table order."""
    spec = BY_MNEMONIC[ins.mnemonic]
    ops = ", ".join(f"{f.name}={format_value(f, ins.fields[f.name])}" for f in spec.fields)
    return f"{ins.mnemonic} {ops}" if ops else ins.mnemonic


def format_const(c: Const) -> str:
    """A ``.const`` line with inline values (vectorized formatting)."""
    values = c.values()
    if c.dtype in ("f32", "f16", "f64"):
        items = values.astype(str)  # numpy's shortest round-tripping text of each value
    else:
        items = values.astype(np.int64).astype(str)
    return f".const {c.name} {c.dtype} [{', '.join(items.tolist())}]"


def format_tensor(t: Tensor) -> str:
    """A ``.tensor`` line; options appear only when they differ from the defaults."""
    shape = "[" + ", ".join(str(d) for d in t.shape) + "]"
    line = f".tensor {t.name} {t.role} {shape} {t.dtype} {t.mem} 0x{t.addr:x}"
    if t.scale != 1.0:
        line += f" scale={format_f32(t.scale)}"
    if t.zp:
        line += f" zp={t.zp}"
    if t.scales is not None:
        line += f" scales={t.scales} axis={t.axis}"
    return line


def disassemble(p: Program) -> str:
    """The whole program as assembly text (ends with a newline)."""
    out = []
    if p.target or any(p.fingerprint):
        words = [".target"] + [p.target] * bool(p.target)
        words += [f"fingerprint={p.fingerprint.hex()}"] * any(p.fingerprint)
        out.append(" ".join(words))
    out += [f".meta {k} {json.dumps(p.meta[k])}" for k in sorted(p.meta)]
    out += [format_const(c) for c in p.consts]
    out += [format_tensor(t) for t in p.tensors]
    out += [f".call {json.dumps(call_to_json(c))}" for c in p.calls]
    for i, ins in enumerate(p.instrs):
        info = p.debug.get(i)
        if info is not None:
            head = "" if info.head is None else f" head={info.head}"
            out.append(f".debug {json.dumps(info.ir_op)} {json.dumps(info.onnx_node)}{head}")
        out.append(format_instr(ins))
    return "\n".join(out) + "\n"
