"""imcc-opt: read IR text, run a pass pipeline, print IR text (like mlir-opt)."""

from __future__ import annotations

import sys

from .. import dialects  # noqa: F401  (registers ops)
from .. import passes as _passes  # noqa: F401  (registers every pass)
from ..ir.parser import parse_module
from ..ir.printer import print_ir
from ..ir.verifier import verify
from ..pm.pass_base import describe_passes, lookup_pass
from ..pm.pipeline import parse_pipeline
from .common import (
    ArgumentParser,
    UsageError,
    add_pass_manager_flags,
    attach_source,
    build_pass_manager,
    read_text,
    run_tool,
    write_text,
)

PROG = "imcc-opt"


def make_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Run passes over imcc IR text. Passes can be given as --pass-pipeline=... or as "
        "flags named like the pass (--cse --canonicalize), applied in command-line order.",
    )
    p.add_argument("input", nargs="?", default="-", help="input .mlir file ('-' for stdin)")
    p.add_argument("-o", dest="output", metavar="FILE", help="output file (default: stdout)")
    p.add_argument(
        "-p",
        "--pass-pipeline",
        metavar="PIPELINE",
        default=None,
        help="comma-separated passes with options, e.g. 'canonicalize,cse{max-iter=3}'",
    )
    p.add_argument("--list-passes", action="store_true", help="list every pass with its options")
    p.add_argument(
        "--allow-unregistered-dialect",
        action="store_true",
        help="accept ops of dialects imcc does not know",
    )
    p.add_argument(
        "--elide-resources",
        action="store_true",
        help="leave large constants' bytes out of the output (for reading)",
    )
    add_pass_manager_flags(p)
    return p


def _flag_passes(extra: list[str]) -> list[str]:
    """Turn leftover ``--pass-name`` flags into pipeline elements, rejecting anything else."""
    items = []
    for arg in extra:
        name = arg[2:] if arg.startswith("--") else None
        if name and lookup_pass(name) is not None:
            items.append(name)
            continue
        raise UsageError(f"unrecognized argument '{arg}'")
    return items


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        parser = make_parser()
        args, extra = parser.parse_known_args(argv)
        if args.list_passes:
            print("Available passes:")
            print(describe_passes())
            return 0
        pipeline = ",".join(
            [*_flag_passes(extra), *([args.pass_pipeline] if args.pass_pipeline else [])]
        )
        passes = parse_pipeline(pipeline)
        pm, timing = build_pass_manager(args, passes)  # instrument flags checked before parsing
        text = read_text(args.input)
        filename = "<stdin>" if args.input == "-" else args.input
        module = parse_module(text, filename, args.allow_unregistered_dialect)
        with attach_source(filename, text):
            verify(module)
            pm.run(module)
        if timing:
            sys.stderr.write(timing.report())
        write_text(
            args.output,
            print_ir(module, debuginfo=args.print_debuginfo, elide_resources=args.elide_resources),
        )
        return 0

    return run_tool(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
