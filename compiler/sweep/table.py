"""A sweep's rows as Parquet (pyarrow) and CSV bytes."""

from __future__ import annotations

import csv
import io

from .point import TIMING_COLUMNS


def parquet_bytes(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue().encode("utf-8")


def without_timing(rows: list[dict]) -> list[dict]:
    """The rows without their wall-clock columns: what two runs of one sweep must agree on."""
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]
