"""imcc-objdump: show what a prog.bin holds (``imcc-objdump prog.bin``).

Prints the header, the section table, meta data, the constant and tensor tables and the
disassembly annotated with debug names and the tensors that operand addresses point into. With
``--asm`` it prints instead assembly text that `imcc-as` turns back into the identical binary.
Exit status: 0 on success, 1 for an unreadable or invalid file, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imcc.runtime.isa.binfmt import HEADER, SECTION, SECTION_KINDS
from imcc.runtime.isa.disasm import disassemble, format_instr
from imcc.runtime.isa.entries import Tensor
from imcc.runtime.isa.errors import BinaryFormatError
from imcc.runtime.isa.program import Program

from ..fileio import InputPathError, read_file
from .guard import guarded


def _header_lines(path: Path, data: bytes, p: Program) -> list[str]:
    _, major, minor, *_ = HEADER.unpack_from(data)
    out = [
        f"{path}: imcc program, format {major}.{minor}, {len(data)} bytes",
        f"  target      {p.target or '(none)'}",
        f"  fingerprint {p.fingerprint.hex()}",
        "",
        "Sections:",
        "  kind     offset     size  items",
    ]
    for i, kind in enumerate(SECTION_KINDS):
        _, off, size, count = SECTION.unpack_from(data, HEADER.size + i * SECTION.size)
        out.append(f"  {kind:<8} {off:>6} {size:>8} {count:>6}")
    if p.meta:
        out += ["", "Meta:"] + [f"  {k} = {p.meta[k]}" for k in sorted(p.meta)]
    return out


def _table_lines(p: Program) -> list[str]:
    out = ["", "Consts:", "  name                         dtype     count      bytes"]
    out += [f"  {c.name:<28} {c.dtype:<5} {c.count:>9} {len(c.raw):>10}" for c in p.consts]
    out += [
        "",
        "Tensors:",
        "  name                         role     dtype mem  address    bytes  shape",
    ]
    for t in p.tensors:
        quant = f" scale={t.scale:g} zp={t.zp}" if (t.scale, t.zp) != (1.0, 0) else ""
        quant += f" scales={t.scales}[axis {t.axis}]" if t.scales else ""
        out.append(
            f"  {t.name:<28} {t.role:<8} {t.dtype:<5} {t.mem:<4} 0x{t.addr:08x} {t.nbytes:>8}  "
            f"{list(t.shape)}{quant}"
        )
    return out


def _pointees(p: Program, ins) -> list[str]:
    """Names of the tensors that the instruction's address operands point into."""
    out = []
    for f in ins.spec.fields:
        if f.kind != "addr":
            continue
        prefix = f.name[: -len("_addr")]
        mem, addr = ins.fields[prefix + "_mem"], ins.fields[f.name]
        hit = _find(p.tensors, mem, addr)
        if hit is not None:
            off = addr - hit.addr
            out.append(f"{prefix}={hit.name}" + (f"+{off}" if off else ""))
    return out


def _find(tensors: list[Tensor], mem: str, addr: int) -> Tensor | None:
    for t in tensors:
        if t.mem == mem and t.addr <= addr < t.addr + max(t.nbytes, 1):
            return t
    return None


def _code_lines(p: Program) -> list[str]:
    out, word = ["", "Disassembly:", "  index   word  instruction"], 0
    for i, ins in enumerate(p.instrs):
        notes = []
        info = p.debug.get(i)
        if info is not None:
            head = "" if info.head is None else f" head {info.head}"
            notes.append(f"{info.ir_op} <{info.onnx_node}>{head}")
        notes += _pointees(p, ins)
        comment = f"  # {'; '.join(notes)}" if notes else ""
        out.append(f"  {i:>5} {word:>6}  {format_instr(ins)}{comment}")
        word += ins.spec.nwords
    return out


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    return guarded("imcc-objdump", lambda: _main(argv))


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imcc-objdump", description="Show a prog.bin's contents.")
    parser.add_argument("binary", help="program binary (prog.bin)")
    parser.add_argument(
        "--asm", action="store_true", help="print reassemblable assembly text instead"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    path = Path(args.binary)
    try:
        data = read_file(path)
        program = Program.from_bytes(data)
    except InputPathError as e:
        print(f"imcc-objdump: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"imcc-objdump: error: {path}: {e.strerror or e}", file=sys.stderr)
        return 1
    except BinaryFormatError as e:
        print(f"imcc-objdump: error: {path}: {e}", file=sys.stderr)
        return 1
    if args.asm:
        sys.stdout.write(disassemble(program))
        return 0
    lines = _header_lines(path, data, program) + _table_lines(program) + _code_lines(program)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
