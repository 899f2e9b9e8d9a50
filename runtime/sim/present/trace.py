"""Chrome / Perfetto trace of a run: one track per unit, one slice per instruction.

Load the JSON in ui.perfetto.dev or chrome://tracing. Timestamps are microseconds (the trace event
format's unit), converted from cycles with the target clock; each slice's args carry the cycle
numbers, the instruction index and its layer, and the attention head for a per-head instruction.
"""

from __future__ import annotations

import json

from ..cost.report import Record, _unit_order, layer_info, layer_name


def build_trace(target, program, records: list[Record]) -> dict:
    """The trace as JSON data (``traceEvents`` plus display metadata)."""
    us_per_cycle = 1.0 / target.clock.freq
    units = sorted({r.slot.unit for r in records}, key=_unit_order)
    tid = {u: k for k, u in enumerate(units)}
    events = [
        {"name": "process_name", "ph": "M", "pid": 0, "args": {"name": f"imcc {target.name}"}},
    ]
    for u in units:
        events.append(
            {"name": "thread_name", "ph": "M", "pid": 0, "tid": tid[u], "args": {"name": u}}
        )
        events.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": 0,
                "tid": tid[u],
                "args": {"sort_index": tid[u]},
            }
        )
    for rec in records:
        s = rec.slot
        info = layer_info(program, s.index)
        layer = layer_name(info)
        head = {} if info is None or info.head is None else {"head": info.head}
        events.append(
            {
                "name": rec.mnemonic,
                "cat": layer,
                "ph": "X",
                "pid": 0,
                "tid": tid[s.unit],
                "ts": s.start * us_per_cycle,
                "dur": (s.end - s.start) * us_per_cycle,
                "args": {
                    "index": s.index,
                    "layer": layer,
                    "start_cycle": s.start,
                    "cycles": s.end - s.start,
                    "servers": s.servers,
                    "energy_pj": sum(rec.energy(target).values()),
                    **head,
                },
            }
        )
    return {"traceEvents": events, "displayTimeUnit": "ns"}


def trace_json(target, program, records: list[Record]) -> str:
    """Deterministic trace JSON text."""
    return json.dumps(build_trace(target, program, records), separators=(",", ":")) + "\n"
