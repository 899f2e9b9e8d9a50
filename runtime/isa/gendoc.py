"""Generate docs/ISA.md from the ISA table (``python -m imcc.runtime.isa.gendoc [-o PATH] [--check]``).

The document is a pure function of the table and of the asm/binfmt module docstrings, so a test can
demand that the committed file equals `render()`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import asm, binfmt
from .disasm import format_instr
from .encoding import Instr
from .program import write_atomic
from .table import CLASSES, DTYPES, ISA_VERSION, MEMS, OPCODE_BITS, TABLE, Field, InstrSpec

CLASS_TITLES = {
    "control": "Control",
    "dma": "DMA",
    "array": "Array programming and MVM jobs",
    "cluster": "Cluster kernels (RISC-V cores)",
    "dw": "Digital depthwise unit",
    "nonlinear": "Nonlinear unit",
}

INTRO = """\
Memories are byte-addressed and little-endian: `L2` (main memory: constants, graph inputs and
outputs, large activations) and `L1` (the cluster's shared scratchpad). Arrays are numbered
globally; the target says each one's kind (analog, dynamic or digital). Semantics are sequential in
program order; the cost model overlaps instructions on different units and orders them only by the
byte ranges they read and write, so programs never need waits for correctness.

Every instruction is an 8-bit opcode followed by its fields in table order, packed LSB-first into a
little-endian bit stream and zero-padded to whole 32-bit words (the length follows from the
opcode). "Offset" in the field tables is the field's first bit in that stream. Decoders reject
non-zero padding, unknown opcodes and out-of-range field values, so each instruction has exactly one
encoding.
"""


def _range(f: Field) -> str:
    if f.kind in ("mem", "dtype", "enum"):
        return ", ".join(f"`{c}`={code}" for c, code in zip(f.choices, f.codes()))
    if f.kind == "f32":
        return "binary32, not NaN"
    if f.kind == "bool":
        return "`true`/`false`"
    return f"{f.min}..{f.max}"


def _default(f: Field) -> str:
    if f.default is None:
        return "required"
    if f.kind == "bool":
        return "`true`" if f.default else "`false`"
    return f"`{f.default}`"


def _example(spec: InstrSpec) -> str:
    values = {}
    for f in spec.fields:
        if f.default is not None:
            values[f.name] = f.default
        elif f.kind in ("mem", "dtype", "enum"):
            values[f.name] = f.choices[0]
        elif f.kind == "f32":
            values[f.name] = 1.0
        else:
            values[f.name] = max(f.min, 1) if f.kind != "addr" else 0x100
    return format_instr(Instr.make(spec.mnemonic, values))


def _instruction(spec: InstrSpec) -> list[str]:
    out = [
        f"### `{spec.mnemonic}` — {spec.summary}",
        "",
        f"Opcode `0x{spec.opcode:02x}`, unit `{spec.unit}`, {spec.nwords} word"
        f"{'s' if spec.nwords > 1 else ''} ({spec.nbits} bits used).",
        "",
        spec.semantics,
        "",
    ]
    if spec.fields:
        out += [
            "| field | bits | offset | kind | values | default | meaning |",
            "|---|---|---|---|---|---|---|",
        ]
        offset = OPCODE_BITS
        for f in spec.fields:
            out.append(
                f"| `{f.name}` | {f.bits} | {offset} | {f.kind} | {_range(f)} | {_default(f)} "
                f"| {f.doc} |"
            )
            offset += f.bits
        out.append("")
    out += ["```", _example(spec), "```", ""]
    return out


def _docstring_body(module) -> str:
    """A module docstring without its first (summary) line, for embedding as prose."""
    return module.__doc__.split("\n", 1)[1].strip() + "\n"


def render() -> str:
    """The full text of docs/ISA.md."""
    major, minor = ISA_VERSION
    out = [
        f"# The imcc ISA, version {major}.{minor}",
        "",
        "<!-- Generated from runtime/isa/table.py by `python -m imcc.runtime.isa.gendoc`; "
        "do not edit by hand. -->",
        "",
        INTRO,
        "## Element types and memory spaces",
        "",
        "| dtype | code | bits | meaning |",
        "|---|---|---|---|",
        *(f"| `{d.name}` | {d.code} | {d.bits} | {d.doc} |" for d in DTYPES.values()),
        "",
        "Memory spaces: " + ", ".join(f"`{m}` = {i}" for i, m in enumerate(MEMS)) + ".",
        "",
        "## Instruction summary",
        "",
        "| mnemonic | opcode | class | unit | words | summary |",
        "|---|---|---|---|---|---|",
        *(
            f"| `{s.mnemonic}` | `0x{s.opcode:02x}` | {s.cls} | {s.unit} | {s.nwords} | {s.summary} |"
            for s in TABLE
        ),
        "",
    ]
    for cls in CLASSES:
        out += [f"## {CLASS_TITLES[cls]}", ""]
        for spec in TABLE:
            if spec.cls == cls:
                out += _instruction(spec)
    out += ["## Assembly syntax", "", _docstring_body(asm)]
    out += ["## The prog.bin container", "", _docstring_body(binfmt)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) the generated ISA document."""
    parser = argparse.ArgumentParser(prog="imcc-isa-doc", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="docs/ISA.md", help="document path")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    text = render()
    path = Path(args.output)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            print(f"error: {path} is out of date; regenerate it with gendoc", file=sys.stderr)
            return 1
        return 0
    write_atomic(path, text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
