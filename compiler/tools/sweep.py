"""``imcc sweep SWEEP.toml -o results.parquet``: a design-space sweep (see compiler/sweep)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imcc.runtime.fileio import write_files

from .common import ArgumentParser, InputError, UsageError, run_tool

PROG = "imcc sweep"
EXTRA_HINT = "pip install 'imcc[sweep]'"


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Compile and run every point of a design-space sweep (target parameters x "
        "models x precisions); write the results as Parquet and CSV with a Pareto plot.",
        epilog="The journal OUT.journal records every finished point: run the same command again "
        "after an interruption and only the missing points run. Example: examples/sweep/.",
    )
    p.add_argument("sweep", help="the sweep file (TOML)")
    p.add_argument("-o", dest="output", required=True, metavar="FILE.parquet",
                   help="results table; FILE.csv and FILE.png (Pareto plot) are written beside it")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on this Dask scheduler (e.g. tcp://127.0.0.1:8786) instead of "
                   "local worker processes")  # fmt: skip
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: one per core)")  # fmt: skip
    p.add_argument("--restart", action="store_true",
                   help="forget the journal of an earlier run and run every point again")  # fmt: skip
    p.add_argument("--no-plot", action="store_true", help="do not draw the Pareto plot")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_tool(PROG, lambda: _main(argv))


def _main(argv) -> int:
    args = make_parser().parse_args(argv)
    out = Path(args.output)
    if out.suffix != ".parquet":
        raise UsageError(f"-o {out}: the results file ends in .parquet")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.scheduler and args.workers:
        raise UsageError("--workers applies to the local cluster, not with --scheduler")
    _require("dask.distributed", "pyarrow")
    from ..sweep.engine import SchedulerError, journal_path, run_points
    from ..sweep.spec import SweepError, load_sweep
    from ..sweep.table import csv_bytes, parquet_bytes

    try:
        sweep = load_sweep(args.sweep)
    except SweepError as exc:
        raise InputError(str(exc)) from None
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: no folder {out.parent}")
    if args.restart:
        journal_path(out).unlink(missing_ok=True)
    print(f"{PROG}: {sweep.name}: {len(sweep.points)} points", file=sys.stderr)
    try:
        rows = run_points(sweep, out, args.scheduler, args.workers)
    except SchedulerError as exc:
        raise UsageError(str(exc)) from None
    files = {out: parquet_bytes(rows), out.with_suffix(".csv"): csv_bytes(rows)}
    if not args.no_plot:
        from ..sweep.pareto import pareto_png

        files[out.with_suffix(".png")] = pareto_png(rows, sweep.name)
    write_files(files)
    failed = sum(r["status"] != "ok" for r in rows)
    print(
        f"{PROG}: {len(rows) - failed} points ok, {failed} failed; wrote "
        + ", ".join(str(f) for f in files),
        file=sys.stderr,
    )
    return 0  # failed points are results too: their rows say why


def _require(*modules: str) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise UsageError(f"sweeps need {name.split('.')[0]}: {EXTRA_HINT}") from None
