"""imcc-as: assemble IMC assembly text into a prog.bin (``imcc-as prog.s -o prog.bin``).

Exit status: 0 on success, 1 on bad input (the error, with file:line:col, on stderr), 2 on usage
errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imcc.runtime.isa.asm import AsmError, assemble_file
from imcc.runtime.isa.errors import ProgramError

from ..fileio import InputPathError, OutputPathError
from .guard import guarded


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    return guarded("imcc-as", lambda: _main(argv))


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="imcc-as", description="Assemble IMC assembly text into a prog.bin binary."
    )
    parser.add_argument("source", help="assembly source (.s)")
    parser.add_argument("-o", "--output", help="output binary (default: SOURCE with .bin suffix)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    source = Path(args.source)
    output = Path(args.output) if args.output else source.with_suffix(".bin")
    try:
        program = assemble_file(source)
        program.save(output)
    except AsmError as e:
        print(e, file=sys.stderr)
        return 1
    except ProgramError as e:
        print(f"{source}: error: {e}", file=sys.stderr)
        return 1
    except (InputPathError, OutputPathError) as e:
        print(f"imcc-as: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"imcc-as: error: {e.filename or source}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
