"""The run report: totals, per-unit and per-layer cycles and energy, area; as text and JSON.

Layers come from the program's debug table (ONNX node name, else IR op name); instructions
without a debug entry are grouped as ``(unattributed)``. Energy is dynamic energy per event from
the cost model, memory access energy per byte touched (from the footprints) and static power over
the run time. Area is the target's: every unit present, whether the program uses it or not.

Heads: a debug entry may name the attention head its instruction works on (``attention-split``
products on the dynamic arrays: the ``xb.write`` of a head's K or V and the ``xb.mvm`` that
streams its queries or probabilities, in the layer rows ``<attention> QK`` and ``<attention>
PV``). A layer row with such instructions gets a ``heads`` list, one entry per head index in
increasing order, with the same fields as the layer (instructions, start, end, span, busy cycles
by unit kind, energy, MACs), summed over the batch. Each field of a layer's heads adds up to that
layer's instructions that name a head: exactly for the integer fields; the energies in another
order of float additions. Work that serves all heads at once (the softmax over every head's
scores, the head reshapes on the cores) names no head and stays in the attention op's own row.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass

from ...isa.entries import DebugInfo
from ..machine.footprint import Footprint
from .cost import Work
from .schedule import Slot

UNATTRIBUTED = "(unattributed)"


@dataclass
class Record:
    """One executed instruction: when and where it ran, what it touched, what it cost."""

    slot: Slot
    mnemonic: str
    footprint: Footprint
    work: Work

    def energy(self, target) -> dict[str, float]:
        """Dynamic energy by category (pJ), memory accesses included."""
        out = dict(self.work.energy)
        for r in self.footprint.reads + self.footprint.writes:
            if r.space in ("L1", "L2") and r.nbytes:
                key = f"mem.{r.space}"
                out[key] = out.get(key, 0.0) + r.nbytes * target.memory[r.space].energy_per_byte
        return out


def unit_kind(unit: str) -> str:
    """``array17`` -> ``array``; other unit names are their own kind."""
    return "array" if unit.startswith("array") else unit


def area_breakdown(target) -> dict[str, float]:
    """Area per unit class in mm2, from the target description."""
    area = {f"arrays.{g.name}": g.count * g.area for g in target.arrays}
    area["cores"] = target.cores.count * target.cores.area
    area["mem.L1"] = target.memory["L1"].area
    area["mem.L2"] = target.memory["L2"].area
    area["dma"] = target.dma.area
    if target.dwunit is not None:
        area["dw"] = target.dwunit.area
    if target.nlunit is not None:
        area["nl"] = target.nlunit.area
    area["other"] = target.chip.other_area
    return area


@dataclass
class Report:
    """Everything measured in a run; `to_dict` is the JSON form, `to_text` the human one."""

    data: dict

    @property
    def cycles(self) -> int:
        """Total run time in cycles (end of the last instruction)."""
        return self.data["total"]["cycles"]

    @property
    def energy_pj(self) -> float:
        """Total energy in pJ (dynamic + static)."""
        return self.data["total"]["energy_pj"]

    def to_dict(self) -> dict:
        """The report as plain JSON data."""
        return self.data

    def to_json(self) -> str:
        """Deterministic JSON text."""
        return json.dumps(self.data, indent=1, sort_keys=False) + "\n"

    def to_text(self) -> str:
        """A readable multi-section report."""
        return _format_text(self.data)


def build_report(target, program, records, machine, seed=0, drift_time=None) -> Report:
    """Aggregate the timeline ``records`` of a run into a `Report`."""
    makespan = max((r.slot.end for r in records), default=0)
    seconds = target.seconds(makespan)
    energy: dict[str, float] = {}
    units: dict[str, dict] = {}
    layers: dict[str, dict] = {}
    for rec in records:
        e = rec.energy(target)
        for k, v in e.items():
            energy[k] = energy.get(k, 0.0) + v
        _add_unit(units, rec, sum(e.values()))
        if rec.slot.unit != "control":
            _add_layer(layers, layer_info(program, rec.slot.index), rec, sum(e.values()))
    static = target.chip.static_power * 1e9 * seconds  # mW * s = mJ = 1e9 pJ
    inference = _inference(target, program, records)
    dynamic = sum(energy.values())
    energy = dict(sorted(energy.items()))
    energy["static"] = static
    area = area_breakdown(target)
    servers = {"cores": target.cores.count, "dma": target.dma.count}
    unit_rows = []
    for name in sorted(units, key=_unit_order):
        u = units[name]
        cap = servers.get(name, 1) * makespan
        u["utilization"] = u["busy_cycles"] / cap if cap else 0.0
        if unit_kind(name) == "array" and name[5:].isdigit():
            u["group"] = target.group_of(int(name[5:])).name  # e.g. arrays.static
        unit_rows.append({"unit": name, **u})
    layer_rows = []
    for name, lay in layers.items():
        lay["span_cycles"] = lay["end"] - lay["start"]
        if "heads" in lay:  # last, after the layer's own fields
            heads = lay.pop("heads")
            lay["heads"] = [
                {"head": h, **heads[h], "span_cycles": heads[h]["end"] - heads[h]["start"]}
                for h in sorted(heads)
            ]
        layer_rows.append({"name": name, **lay})
    data = {
        "target": {
            "name": target.name,
            "fingerprint": target.fingerprint,
            "params_fingerprint": target.params_fingerprint,
            "clock_mhz": target.clock.freq,
        },
        "run": {
            "mode": machine.mode,
            "seed": seed,
            "drift_time_s": drift_time,
            "instructions": len(records),
            "program_instructions": len(program.instrs),
        },
        "total": {
            "cycles": makespan,
            "seconds": seconds,
            "energy_pj": dynamic + static,
            "dynamic_energy_pj": dynamic,
            "static_energy_pj": static,
            "avg_power_mw": (dynamic + static) * 1e-9 / seconds if seconds else 0.0,
            "area_mm2": sum(area.values()),
            "arrays_used": len(machine.used_arrays()),
            "macs": sum(r.work.macs for r in records),
        },
        "inference": inference,
        "compiled": _compiled(program),
        "energy_pj": energy,
        "area_mm2": area,
        "units": unit_rows,
        "layers": layer_rows,
    }
    return Report(data)


def _inference(target, program, records) -> dict:
    """One inference with the weights resident: what follows the barrier that ends the weight
    programming prefix (the whole run when there is none), and its lower bound, the busy time
    of its busiest unit (a cluster kernel's cycles count once per core it takes)."""
    barrier = next(
        (
            r
            for r in records
            if r.slot.unit == "control" and program.instrs[r.slot.index].mnemonic == "barrier"
        ),
        None,
    )
    start = barrier.slot.start if barrier is not None else 0
    body = [r for r in records if barrier is None or r.slot.index > barrier.slot.index]
    end = max((r.slot.end for r in body), default=start)
    cycles = max(end - start, 0)
    seconds = target.seconds(cycles)
    dynamic = sum(sum(r.energy(target).values()) for r in body)
    static = target.chip.static_power * 1e9 * seconds
    busy: dict[str, float] = {}
    for r in body:
        if r.slot.unit != "control":
            busy[r.slot.unit] = (
                busy.get(r.slot.unit, 0) + (r.slot.end - r.slot.start) * r.slot.servers
            )
    pools = {"cores": target.cores.count, "dma": target.dma.count}
    bound = {u: b / pools.get(u, 1) for u, b in busy.items()}
    unit = max(bound, key=bound.get, default="")
    return {
        "cycles": cycles,
        "seconds": seconds,
        "energy_pj": dynamic + static,
        "programming_cycles": start,
        "lower_bound_cycles": int(round(bound.get(unit, 0))),
        "busiest_unit": unit,
    }


def _compiled(program) -> dict:
    """What the compiler recorded in the program's meta section (mapping, memory), parsed."""
    out = {}
    for key in ("mapping", "memory"):
        text = program.meta.get(key)
        if text:
            try:
                out[key] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                out[key] = text
    return out


def _unit_order(name: str):
    if name.startswith("array"):
        return (0, int(name[5:]))
    return (1, name)


def _add_unit(units: dict, rec: Record, energy: float) -> None:
    if rec.slot.unit == "control":
        return
    u = units.setdefault(rec.slot.unit, {"instructions": 0, "busy_cycles": 0, "energy_pj": 0.0})
    u["instructions"] += 1
    u["busy_cycles"] += (rec.slot.end - rec.slot.start) * rec.slot.servers
    u["energy_pj"] += energy


#: The report row every array-programming instruction is counted in.
PROGRAMMING = DebugInfo("xb.prog", "[weight programming]")


def layer_info(program, index: int) -> DebugInfo | None:
    """The debug entry instruction ``index`` is reported under: weight programming is one row
    of its own (not part of each layer's time), everything else its IR op and ONNX node."""
    if program.instrs[index].mnemonic == "xb.prog":
        return PROGRAMMING
    return program.debug.get(index)


def layer_name(info) -> str:
    """The report's name of a layer: ONNX node, else IR op, else ``(unattributed)``."""
    return (info.onnx_node or info.ir_op) if info is not None else UNATTRIBUTED


def _add_layer(layers: dict, info, rec: Record, energy: float) -> None:
    """Count ``rec`` in its layer's row and, when its debug entry names a head, in that head's."""
    name = layer_name(info)
    lay = layers.get(name)
    if lay is None:
        lay = layers[name] = {
            "ir_op": info.ir_op if info is not None else "",
            "onnx_node": info.onnx_node if info is not None else "",
            **_new_row(rec),
        }
    _count(lay, rec, energy)
    if info is not None and info.head is not None:
        heads = lay.setdefault("heads", {})  # head index -> row; listed by build_report
        _count(heads.setdefault(info.head, _new_row(rec)), rec, energy)


def _new_row(rec: Record) -> dict:
    return {
        "instructions": 0,
        "start": rec.slot.start,
        "end": rec.slot.end,
        "busy_cycles": {},
        "energy_pj": 0.0,
        "macs": 0,
    }


def _count(row: dict, rec: Record, energy: float) -> None:
    row["instructions"] += 1
    row["start"] = min(row["start"], rec.slot.start)
    row["end"] = max(row["end"], rec.slot.end)
    if rec.slot.unit != "control":
        kind = unit_kind(rec.slot.unit)
        busy = (rec.slot.end - rec.slot.start) * rec.slot.servers
        row["busy_cycles"][kind] = row["busy_cycles"].get(kind, 0) + busy
        row["macs"] += rec.work.macs
    row["energy_pj"] += energy


# --- text --------------------------------------------------------------------------------------


def _si(value: float, unit: str) -> str:
    """``12.3 uJ`` style formatting of a value given in the base unit."""
    if value == 0:
        return f"0 {unit}"
    for factor, prefix in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value / 1e-15:.3g} f{unit}"


def _energy(pj: float) -> str:
    return _si(pj * 1e-12, "J")


def _format_text(d: dict) -> str:
    t, run, tot = d["target"], d["run"], d["total"]
    lines = [
        f"target {t['name']} (fingerprint {t['fingerprint'][:12]}, params "
        f"{t['params_fingerprint'][:12]}), mode {run['mode']}, seed {run['seed']}"
        + (f", drift {run['drift_time_s']:g} s" if run["drift_time_s"] is not None else ""),
        f"time    {tot['cycles']:,} cycles = {_si(tot['seconds'], 's')} at {t['clock_mhz']:g} MHz",
        f"energy  {_energy(tot['energy_pj'])} (dynamic {_energy(tot['dynamic_energy_pj'])}, "
        f"static {_energy(tot['static_energy_pj'])}), average power "
        f"{_si(tot['avg_power_mw'] * 1e-3, 'W')}",
        f"area    {tot['area_mm2']:.3g} mm2; arrays used {tot['arrays_used']}; "
        f"{run['instructions']} of {run['program_instructions']} instructions executed",
        *_inference_lines(d.get("inference"), t),
        *_compiled_lines(d.get("compiled") or {}),
        "",
        "energy by category:",
    ]
    for k, v in d["energy_pj"].items():
        share = v / tot["energy_pj"] if tot["energy_pj"] else 0.0
        lines.append(f"  {k:<16} {_energy(v):>12} {share:>7.1%}")
    lines += ["", f"  {'unit':<12} {'instrs':>7} {'busy cycles':>14} {'util':>7} {'energy':>12}"]
    for u in _collapse_arrays(d["units"]):
        lines.append(
            f"  {u['unit']:<12} {u['instructions']:>7,} {u['busy_cycles']:>14,} "
            f"{u['utilization']:>7.1%} {_energy(u['energy_pj']):>12}"
        )
    lines += [
        "",
        f"  {'layer':<28} {'instrs':>7} {'start':>12} {'span':>12} {'energy':>12} {'MACs':>14}",
    ]
    for lay in d["layers"]:
        lines.append(
            f"  {lay['name'][:28]:<28} {lay['instructions']:>7,} {lay['start']:>12,} "
            f"{lay['span_cycles']:>12,} {_energy(lay['energy_pj']):>12} {lay['macs']:>14,}"
        )
    lines += _head_lines(d["layers"])
    return "\n".join(lines) + "\n"


#: How many head rows the text report lists one by one (see `_head_lines`).
HEAD_ROWS = 32


def _head_lines(layers: list[dict]) -> list[str]:
    """The text report's section on attention heads (nothing when no layer has heads).

    It lists every head of the first layers that have heads, whole layers in report order while
    they hold at most `HEAD_ROWS` heads together (the first layer always): for BERT-like models
    the Q·Kᵀ and P·V rows of the first attention layer, all layers of a small model. Then one line
    per layer with heads, this one included: the number of heads and the min / mean / max over
    them of busy cycles and energy, which shows an imbalance between the heads at a glance
    however many there are. The JSON report (`Report.to_dict`) has every head of every layer.
    """
    with_heads = [lay for lay in layers if lay.get("heads")]
    if not with_heads:
        return []
    counts = "/".join(str(n) for n in sorted({len(lay["heads"]) for lay in with_heads}))
    kinds = sorted(
        {k for lay in with_heads for h in lay["heads"] for k in h["busy_cycles"]},
        key=lambda k: (k != "array", k),
    )
    listed, rows = [], 0
    for lay in with_heads:
        if listed and rows + len(lay["heads"]) > HEAD_ROWS:
            break
        listed.append(lay)
        rows += len(lay["heads"])
    lines = [
        "",
        f"attention heads: {len(with_heads)} layers run per head ({counts} heads each); a head's "
        "row sums the layer's instructions for that head, over the batch",
    ]
    header = (
        f"    {'head':>4} {'instrs':>7} {'start':>12} {'span':>10}"
        + "".join(f" {'busy ' + k:>12}" for k in kinds)
        + f" {'energy':>12} {'MACs':>10}"
    )
    for lay in listed:
        lines += [f"  {lay['name']} ({len(lay['heads'])} heads)", header]
        for h in lay["heads"]:
            lines.append(
                f"    {h['head']:>4} {h['instructions']:>7,} {h['start']:>12,} "
                f"{h['span_cycles']:>10,}"
                + "".join(f" {h['busy_cycles'].get(k, 0):>12,}" for k in kinds)
                + f" {_energy(h['energy_pj']):>12} {h['macs']:>10,}"
            )
    if len(listed) < len(with_heads):
        lines.append(f"  ({len(with_heads) - len(listed)} more layers with heads: see the JSON)")
    lines += [
        "",
        f"  {'layer':<36} {'heads':>5} {'busy min':>10} {'mean':>10} {'max':>10} "
        f"{'energy min':>11} {'mean':>10} {'max':>10}",
    ]
    for lay in with_heads:
        busy = [sum(h["busy_cycles"].values()) for h in lay["heads"]]
        energy = [h["energy_pj"] for h in lay["heads"]]
        lines.append(
            f"  {_tail(lay['name'], 36):<36} {len(busy):>5} {min(busy):>10,} "
            f"{sum(busy) / len(busy):>10,.0f} {max(busy):>10,} {_energy(min(energy)):>11} "
            f"{_energy(sum(energy) / len(energy)):>10} {_energy(max(energy)):>10}"
        )
    return lines


def _tail(name: str, width: int) -> str:
    """``name`` cut to ``width`` characters from the left: the end of a layer's name (``QK``,
    ``PV``) is what tells its rows apart."""
    return name if len(name) <= width else "…" + name[len(name) - width + 1 :]


def _inference_lines(inf: dict | None, t: dict) -> list[str]:
    if not inf:
        return []
    return [
        f"inference {inf['cycles']:,} cycles = {_si(inf['seconds'], 's')}, "
        f"{_energy(inf['energy_pj'])} (weights programmed once before it: "
        f"{inf['programming_cycles']:,} cycles); lower bound {inf['lower_bound_cycles']:,} "
        f"cycles (busiest unit: {inf['busiest_unit'] or 'none'})"
    ]


def _compiled_lines(c: dict) -> list[str]:
    lines = []
    m = c.get("mapping")
    if isinstance(m, dict):
        lines.append(
            f"mapping arrays needed {m.get('arrays_needed')}, used {m.get('arrays_used')} of "
            f"{m.get('arrays_available')}, utilisation {m.get('utilisation', 0):.1%}, "
            f"epochs {m.get('epochs')} ("
            + (
                "the weights fit one chip"
                if m.get("epochs") == 1
                else "the weights do not fit one chip: the arrays are reprogrammed between "
                "the epochs"
            )
            + ")"
        )
        need, have = m.get("arrays_needed"), m.get("arrays_available")
        if isinstance(need, int) and isinstance(have, int) and 0 < have < need:
            lines.append(
                f"        strategies: one chip reprogrammed over {m.get('epochs')} epochs (this "
                f"program), or {-(-need // have)} chips of {have} arrays holding every weight "
                "at once (not simulated)"
            )
        lines += [f"        {note}" for note in m.get("notes", [])]
    mem = c.get("memory")
    if isinstance(mem, dict):
        spilled = mem.get("l2_scratch") or []
        tiled = mem.get("tiled_layers") or []
        lines.append(
            f"memory  L1 peak {mem.get('l1_peak', 0):,} B, L2 {mem.get('l2_peak', 0):,} B"
            + (f"; {len(tiled)} layers run in tiles through L1" if tiled else "")
            + (
                f"; {len(spilled)} activations worked on in L2 (too large for L1)"
                if spilled
                else ""
            )
        )
    return lines


def _collapse_arrays(units: list[dict]) -> list[dict]:
    """One text row per array group (``static x320``, ``attn x64``) when more than eight
    arrays were used."""
    arrays = [u for u in units if u["unit"].startswith("array")]
    if len(arrays) <= 8:
        return units
    groups: dict[str, list[dict]] = {}
    for u in arrays:
        groups.setdefault(u.get("group", "arrays").removeprefix("arrays."), []).append(u)
    merged = [
        {
            "unit": f"{name} x{len(members)}",
            "instructions": sum(u["instructions"] for u in members),
            "busy_cycles": sum(u["busy_cycles"] for u in members),
            "utilization": sum(u["utilization"] for u in members) / len(members),
            "energy_pj": sum(u["energy_pj"] for u in members),
        }
        for name, members in groups.items()
    ]
    return merged + [u for u in units if not u["unit"].startswith("array")]
