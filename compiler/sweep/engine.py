"""Run a sweep's points in parallel on Dask, journaled so that an interrupted sweep resumes.

Every finished point (ok or failed) is appended to the journal (``OUT.journal``, JSON lines) and
flushed to disk the moment its result arrives. A restarted sweep reads the journal first and runs
only the points it does not hold; a half-written last line (the process was killed while writing
it) is ignored and its point runs again. The table is written from the journal at the end, one
row per point in point order, so every point appears exactly once however often the sweep was
interrupted.

Without a scheduler address the points run on a local Dask cluster of one single-threaded worker
process per core; with one (``tcp://host:8786``) on that cluster, whose workers must see the sweep
file's folder at the same path and have imcc installed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .point import METRIC_COLUMNS, TIMING_COLUMNS, evaluate, identity
from .spec import Point, Sweep


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal")


def read_journal(path: Path, sweep: Sweep) -> dict[str, dict]:
    """The finished rows of ``sweep`` recorded in the journal, by point id."""
    if not path.exists():
        return {}
    wanted = {p.id for p in sweep.points}
    done = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short when the sweep was killed: its point runs again
        if isinstance(row, dict) and row.get("id") in wanted:
            done[row["id"]] = row
    return done


def run_points(
    sweep: Sweep,
    out: Path,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> list[dict]:
    """Every point's row, in point order: those in the journal as recorded, the others run now."""
    journal = journal_path(out)
    done = read_journal(journal, sweep)
    todo = [p for p in sweep.points if p.id not in done]
    total = len(sweep.points)
    if done:
        progress(f"resuming: {len(done)} of {total} points already in {journal.name}")
    if todo:
        base = str(sweep.path.resolve().parent)
        with _client(scheduler, workers) as client, journal.open("a", encoding="utf-8") as log:
            if log.tell() and _last_byte(journal) != b"\n":
                log.write("\n")  # end the line a kill cut short, so the next row stands alone
            _run(client, todo, base, done, log, total, progress)
    return [_aligned(done[p.id], p, sweep) for p in sweep.points]


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _run(client, todo: list[Point], base: str, done: dict, log, total: int, progress) -> None:
    from dask.distributed import as_completed

    start = time.perf_counter()
    futures = {
        client.submit(evaluate, p, base, key=f"imcc-sweep-{p.id}", pure=False): p for p in todo
    }
    for future in as_completed(futures):
        point = futures[future]
        try:
            row = future.result()
        except Exception as exc:  # the worker died or the task could not run
            row = {**identity(point), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        log.write(json.dumps(row, sort_keys=True) + "\n")
        log.flush()
        os.fsync(log.fileno())
        done[point.id] = row
        what = "ok" if row["status"] == "ok" else f"FAILED: {row['error']}"
        progress(
            f"[{len(done)}/{total}] point {point.index} ({_describe(point)}): {what} "
            f"({time.perf_counter() - start:.0f} s)"
        )


def _aligned(row: dict, point: Point, sweep: Sweep) -> dict:
    """``row`` with every column of the sweep, in one order: identity, parameters, the rest."""
    out = identity(point)
    for key in sweep.param_keys:
        out.setdefault(f"set.{key}", None)
    for key in (*METRIC_COLUMNS, "status", "error", "warnings", *TIMING_COLUMNS):
        out[key] = row.get(key)
    return out


def _describe(point: Point) -> str:
    params = " ".join(f"{k}={v}" for k, v in point.params)
    return " ".join(x for x in (point.model.name, point.target, point.precision, params) if x)


class SchedulerError(Exception):
    """The Dask scheduler given cannot be reached."""


class _client:
    """A Dask client: on a fresh local cluster, or connected to ``scheduler``."""

    def __init__(self, scheduler: str | None, workers: int | None):
        self.scheduler, self.workers = scheduler, workers
        self.cluster = self.client = None

    def __enter__(self):
        from dask.distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise SchedulerError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {exc}"
                ) from None
            return self.client
        self.cluster = LocalCluster(
            n_workers=self.workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False
