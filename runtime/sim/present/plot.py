"""PNG charts of a run: per-layer latency and energy, per-unit busy time, array occupancy.

`render` draws three images with the project's own raster library and PNG encoder, so they need
nothing beyond numpy and come out byte-identical for the same run:

- ``layers.png``: each layer's latency span (first start to last end, in cycles) and its dynamic
  energy stacked by category; a last row shows the whole run, static energy included (static
  power is a property of the run, not of a layer, so layers are not charged any).
- ``units.png``: busy cycles (summed over a unit's servers) and utilisation of every unit.
- ``arrays.png``: one tile per array of the target, cells coloured by the layer whose weights the
  program's ``xb.prog`` / ``xb.write`` windows put there, unused cells grey, with each used
  array's occupied fraction. Tiles are downscaled: a pixel shows a layer when any cell it
  covers holds one (the later layer in the legend where two meet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cost.report import layer_info, layer_name
from .raster import (
    BLACK,
    DARK,
    GREY,
    WHITE,
    Canvas,
    Scale,
    fit,
    legend,
    nice_ticks,
    palette,
    shade,
    short_number,
    text_width,
    x_axis,
)

FILES = ("layers.png", "units.png", "arrays.png")
MARGIN = 12
ROW_H = 14
BAR_H = 10
WIDTH = 1000
NAME_CHARS = 28  # longest row label before it is cut with an ellipsis
MAX_UNIT_ARRAYS = 32  # more arrays than this are shown as one row in units.png
TILE_FRAME = (150, 150, 150)

# category families of the cost model's energy keys ("array.adc", "mem.L1", ...)
FAMILY_COLORS = {
    "array": (52, 101, 164),
    "cores": (237, 125, 49),
    "dma": (78, 154, 6),
    "dw": (204, 0, 0),
    "nl": (117, 80, 123),
    "mem": (143, 89, 2),
    "static": (186, 186, 186),
}
_SHADES = (0.0, 0.35, -0.35, 0.6, -0.55, 0.15, -0.15)


def render(result, program) -> dict[str, bytes]:
    """PNG bytes by file name (`FILES`) for a finished run.

    ``result`` is the runner's result (report, records and the target it ran on), ``program``
    the program it ran.
    """
    report = result.report.to_dict()
    energy = layer_energy(program, result.records, result.target)
    return {
        "layers.png": layers_chart(report, energy).to_png(),
        "units.png": units_chart(report).to_png(),
        "arrays.png": arrays_chart(program, result.target).to_png(),
    }


def layer_energy(program, records, target) -> dict[str, dict[str, float]]:
    """Dynamic energy (pJ) by category of each report layer, summed from the run's records."""
    out: dict[str, dict[str, float]] = {}
    for rec in records:
        if rec.slot.unit == "control":
            continue  # the report leaves these out of every layer too
        cats = out.setdefault(layer_name(layer_info(program, rec.slot.index)), {})
        for key, value in rec.energy(target).items():
            cats[key] = cats.get(key, 0.0) + value
    return out


def category_colors(categories) -> dict[str, tuple[int, int, int]]:
    """A colour per energy category: one hue per family (array, cores, ...), shades within."""
    out, members, extra = {}, {}, 0
    for cat in categories:
        family = cat.split(".", 1)[0]
        if family in FAMILY_COLORS:
            k = members.get(family, 0)
            members[family] = k + 1
            out[cat] = shade(FAMILY_COLORS[family], _SHADES[k % len(_SHADES)])
        else:
            out[cat] = palette(len(FAMILY_COLORS) + extra)
            extra += 1
    return out


def energy_unit(max_pj: float) -> tuple[float, str]:
    """(pJ per unit, unit name) that keeps ``max_pj`` between 1 and 1000 units where possible."""
    for factor, name in ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
        if max_pj >= factor:
            return factor, name
    return 1.0, "pJ"


# --- shared pieces ---------------------------------------------------------------------------


def _title(canvas: Canvas, title: str, subtitle: str) -> None:
    canvas.text(MARGIN, MARGIN, fit(title, canvas.width - 2 * MARGIN, 2), BLACK, scale=2)
    canvas.text(MARGIN, MARGIN + 24, fit(subtitle, canvas.width - 2 * MARGIN), DARK)


def _bar_label(canvas: Canvas, x0: int, x1: int, y: int, text: str, lo: int, hi: int) -> None:
    """Put ``text`` right of the bar x0..x1, else left of it, else inside it."""
    w = text_width(text)
    if x1 + 4 + w <= hi:
        canvas.text(x1 + 4, y, text, DARK, valign="middle")
    elif x0 - 4 - w >= lo:
        canvas.text(x0 - 4, y, text, DARK, align="right", valign="middle")
    else:
        canvas.text(x1 - 3, y, text, WHITE, align="right", valign="middle")


@dataclass(frozen=True)
class _Rows:
    """Geometry of a chart made of labelled rows and two side-by-side panels."""

    names: list[str]
    y0: int = MARGIN + 56  # top of the first row

    @property
    def name_w(self) -> int:
        longest = max((text_width(n) for n in self.names), default=0)
        return min(longest, text_width("x" * NAME_CHARS))

    @property
    def panels(self) -> tuple[tuple[int, int], tuple[int, int]]:
        x = MARGIN + self.name_w + 10
        w = (WIDTH - MARGIN - x - 30) // 2
        return (x, x + w), (x + w + 30, x + 2 * w + 30)

    @property
    def axis_y(self) -> int:
        return self.y0 + len(self.names) * ROW_H + 2

    def mid(self, i: int) -> int:
        return self.y0 + i * ROW_H + ROW_H // 2

    def draw_names(self, canvas: Canvas) -> None:
        for i, name in enumerate(self.names):
            label = fit(name, self.name_w, middle=True)
            canvas.text(MARGIN, self.mid(i), label, BLACK, valign="middle")

    def panel_title(self, canvas: Canvas, panel: tuple[int, int], text: str) -> None:
        canvas.text(panel[0], self.y0 - 14, fit(text, panel[1] - panel[0]), BLACK)


# --- layers.png ------------------------------------------------------------------------------


def layers_chart(report: dict, energy: dict[str, dict[str, float]]) -> Canvas:
    """Per-layer latency spans and energy stacked by category, with a whole-run row."""
    total = report["total"]
    cats = list(report["energy_pj"])
    colors = category_colors(cats)
    rows = [
        (lay["name"], lay["start"], lay["end"], energy.get(lay["name"], {}))
        for lay in report["layers"]
    ]
    rows.append(("whole run", 0, total["cycles"], report["energy_pj"]))
    geo = _Rows([r[0] for r in rows])
    items = [(c, colors[c]) for c in cats]
    legend_y = geo.axis_y + 22
    height = legend_y + legend(None, MARGIN, legend_y, items, WIDTH - 2 * MARGIN, False) + MARGIN
    canvas = Canvas(WIDTH, height)
    _title(
        canvas,
        "Per-layer latency and energy",
        f"target {report['target']['name']}: {total['cycles']:,} cycles, "
        f"{_energy_text(total['energy_pj'])} ({_energy_text(total['static_energy_pj'])} static, "
        "shown in the whole-run row only)",
    )
    (t0, t1), (e0, e1) = geo.panels
    geo.draw_names(canvas)
    t_ticks = nice_ticks(max([total["cycles"]] + [r[2] for r in rows]))
    t_scale = Scale(0, t_ticks[-1], t0, t1)
    max_pj = max((sum(r[3].values()) for r in rows), default=0.0)
    factor, unit = energy_unit(max_pj)
    e_ticks = nice_ticks(max_pj / factor)
    e_scale = Scale(0, e_ticks[-1] * factor, e0, e1)
    x_axis(canvas, t_scale, t_ticks, geo.axis_y, geo.y0 - 2)
    x_axis(
        canvas,
        e_scale,
        [v * factor for v in e_ticks],
        geo.axis_y,
        geo.y0 - 2,
        lambda v: short_number(v / factor),
    )
    geo.panel_title(canvas, (t0, t1), "latency span (cycles, first start to last end)")
    geo.panel_title(canvas, (e0, e1), f"energy ({unit}), dynamic by category")
    canvas.rect(MARGIN, geo.y0 + (len(rows) - 1) * ROW_H, WIDTH - 2 * MARGIN, 1, GREY)
    for i, (_, start, end, by_cat) in enumerate(rows):
        y = geo.mid(i) - BAR_H // 2
        x0, x1 = t_scale(start), max(t_scale(end), t_scale(start) + 1)
        canvas.rect(x0, y, x1 - x0, BAR_H, (70, 110, 160))
        _bar_label(canvas, x0, x1, geo.mid(i), short_number(end - start), t0, t1)
        acc = 0.0
        for cat in cats:
            value = by_cat.get(cat, 0.0)
            canvas.rect(e_scale(acc), y, e_scale(acc + value) - e_scale(acc), BAR_H, colors[cat])
            acc += value
        _bar_label(canvas, e0, e_scale(acc), geo.mid(i), _energy_text(acc), e0, e1)
    legend(canvas, MARGIN, legend_y, items, WIDTH - 2 * MARGIN)
    return canvas


def _energy_text(pj: float) -> str:
    factor, unit = energy_unit(pj)
    return f"{pj / factor:.3g} {unit}"


# --- units.png -------------------------------------------------------------------------------


def units_chart(report: dict) -> Canvas:
    """Busy cycles and utilisation per unit; many arrays collapse into one averaged row."""
    units = _collapse_arrays(report["units"])
    geo = _Rows([u["unit"] for u in units])
    canvas = Canvas(WIDTH, geo.axis_y + 22 + MARGIN)
    _title(
        canvas,
        "Per-unit busy time and utilisation",
        f"target {report['target']['name']}: {report['total']['cycles']:,} cycles; busy cycles "
        "add up a unit's servers (cores, DMA engines); utilisation = busy / (servers x run time)",
    )
    (b0, b1), (u0, u1) = geo.panels
    geo.draw_names(canvas)
    busy_ticks = nice_ticks(max((u["busy_cycles"] for u in units), default=0))
    busy = Scale(0, busy_ticks[-1], b0, b1)
    util = Scale(0, 100, u0, u1)
    x_axis(canvas, busy, busy_ticks, geo.axis_y, geo.y0 - 2)
    x_axis(canvas, util, [0, 25, 50, 75, 100], geo.axis_y, geo.y0 - 2, lambda v: f"{v:g}%")
    geo.panel_title(canvas, (b0, b1), "busy cycles")
    geo.panel_title(canvas, (u0, u1), "utilisation")
    for i, u in enumerate(units):
        y = geo.mid(i) - BAR_H // 2
        family = "array" if u["unit"].startswith("array") else u["unit"]
        color = FAMILY_COLORS.get(family, palette(len(FAMILY_COLORS)))
        canvas.rect(b0, y, busy(u["busy_cycles"]) - b0, BAR_H, color)
        _bar_label(
            canvas, b0, busy(u["busy_cycles"]), geo.mid(i), short_number(u["busy_cycles"]), b0, b1
        )
        pct = 100 * u["utilization"]
        canvas.rect(u0, y, util(pct) - u0, BAR_H, color)
        _bar_label(canvas, u0, util(pct), geo.mid(i), f"{pct:.3g}%", u0, u1)
    return canvas


def _collapse_arrays(units: list[dict]) -> list[dict]:
    arrays = [u for u in units if u["unit"].startswith("array")]
    if len(arrays) <= MAX_UNIT_ARRAYS:
        return units
    merged = {
        "unit": f"arrays x{len(arrays)} (mean)",
        "busy_cycles": sum(u["busy_cycles"] for u in arrays) / len(arrays),
        "utilization": sum(u["utilization"] for u in arrays) / len(arrays),
    }
    return [merged] + [u for u in units if not u["unit"].startswith("array")]


# --- arrays.png ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """An array window that an ``xb.prog`` or ``xb.write`` fills, and the layer it belongs to."""

    array: int
    row0: int
    col0: int
    rows: int
    cols: int
    layer: str


def program_windows(program) -> list[Window]:
    """The array-programming windows of ``program``, in program order."""
    out = []
    for i, ins in enumerate(program.instrs):
        if ins.mnemonic in ("xb.prog", "xb.write"):
            f = ins.fields
            name = layer_name(program.debug.get(i))
            out.append(Window(f["array"], f["row0"], f["col0"], f["rows"], f["cols"], name))
    return out


def occupancy(shape: tuple[int, int], windows, index_of: dict[str, int]) -> np.ndarray:
    """Per cell of one array: the index of the layer whose weights it holds last, else -1."""
    owner = np.full(shape, -1, np.int32)
    for w in windows:
        owner[w.row0 : w.row0 + w.rows, w.col0 : w.col0 + w.cols] = index_of[w.layer]
    return owner


def downsample(owner: np.ndarray, height: int, width: int) -> np.ndarray:
    """``owner`` shrunk (or grown) to height x width pixels; a pixel keeps its cells' maximum.

    Pixel row i covers cell rows floor(i·R/height) up to the next pixel's first row (at least
    one row), and likewise for columns.
    """
    rows = (np.arange(height) * owner.shape[0]) // height
    cols = (np.arange(width) * owner.shape[1]) // width
    return np.maximum.reduceat(np.maximum.reduceat(owner, rows, axis=0), cols, axis=1)


@dataclass(frozen=True)
class ArrayLayout:
    """Where arrays.png draws things: ``tiles[i]`` is (x, y, w, h) of global array i.

    ``width`` is what the tiles need; the chart may be wider to fit its subtitle.
    """

    width: int
    tiles: list[tuple[int, int, int, int]]
    headers: list[tuple[int, str]]  # (y, text) above each array group
    legend_y: int


def array_layout(target) -> ArrayLayout:
    """Tile geometry for every array of ``target``: one grid per array group."""
    side = min(max(int(560 / math.sqrt(max(target.n_arrays, 1))), 28), 96)
    tiles, headers, y, widest = [], [], MARGIN + 42, 480
    for g in target.arrays:
        big = max(g.rows, g.cols)
        tw, th = max(round(side * g.cols / big), 2), max(round(side * g.rows / big), 2)
        pitch_x, pitch_y = max(tw, 28) + 8, th + 26
        per_row = min(g.count, max((WIDTH - 2 * MARGIN) // pitch_x, 1))
        headers.append(
            (
                y,
                f"{g.name} ({g.kind}): {g.count} arrays of {g.rows} x {g.cols} cells, "
                f"from index {g.first}",
            )
        )
        y += 16
        for k in range(g.count):
            col, row = k % per_row, k // per_row
            tiles.append(
                (MARGIN + col * pitch_x + (pitch_x - tw) // 2, y + row * pitch_y + 11, tw, th)
            )
        y += math.ceil(g.count / per_row) * pitch_y + 6
        widest = max(widest, per_row * pitch_x + 2 * MARGIN)
    return ArrayLayout(widest, tiles, headers, y + 4)


def arrays_chart(program, target) -> Canvas:
    """The occupancy map: every array a tile, cells coloured by the layer programmed into them."""
    windows = [w for w in program_windows(program) if 0 <= w.array < target.n_arrays]
    layers = list(dict.fromkeys(w.layer for w in windows))
    index_of = {name: i for i, name in enumerate(layers)}
    colors = np.array([GREY] + [palette(i) for i in range(len(layers))], np.uint8)
    layout = array_layout(target)
    by_array: dict[int, list[Window]] = {}
    for w in windows:
        by_array.setdefault(w.array, []).append(w)
    cells = np.zeros(len(layers), np.int64)
    arrays_of = np.zeros(len(layers), np.int64)
    pictures, fractions = {}, {}
    for a in sorted(by_array):
        g = target.group_of(a)
        owner = occupancy((g.rows, g.cols), by_array[a], index_of)
        counts = np.bincount(owner[owner >= 0], minlength=len(layers))
        cells += counts
        arrays_of += counts > 0
        fractions[a] = counts.sum() / owner.size
        x, y, w, h = layout.tiles[a]
        pictures[a] = colors[downsample(owner, h, w) + 1]
    items = [
        (_layer_entry(name, int(cells[i]), int(arrays_of[i])), palette(i))
        for i, name in enumerate(layers)
    ]
    items.append(("unused cells", GREY))
    total_cells = sum(g.count * g.rows * g.cols for g in target.arrays)
    subtitle = (
        f"target {target.name}: {len(pictures)} of {target.n_arrays} arrays hold weights, "
        f"{int(cells.sum()):,} of {total_cells:,} cells; % = occupied fraction of the array"
    )
    width = max(layout.width, min(text_width(subtitle) + 2 * MARGIN, WIDTH))
    inner = width - 2 * MARGIN
    height = layout.legend_y + legend(None, MARGIN, 0, items, inner, False) + MARGIN
    canvas = Canvas(width, height)
    _title(canvas, "Array occupancy", subtitle)
    for y, text in layout.headers:
        canvas.text(MARGIN, y, fit(text, inner), BLACK)
    for a, (x, y, w, h) in enumerate(layout.tiles):
        used = a in pictures
        canvas.frame(x - 1, y - 1, w + 2, h + 2, DARK if used else TILE_FRAME)
        if used:
            canvas.image(x, y, pictures[a])
            canvas.text(x + w // 2, y + h + 3, _percent(fractions[a]), BLACK, align="center")
        else:
            canvas.rect(x, y, w, h, GREY)
        canvas.text(x + w // 2, y - 10, str(a), BLACK if used else TILE_FRAME, align="center")
    legend(canvas, MARGIN, layout.legend_y, items, inner)
    return canvas


def _layer_entry(name: str, cells: int, arrays: int) -> str:
    plural = "" if arrays == 1 else "s"
    return f"{fit(name, 32 * 6, middle=True)}: {cells:,} cells on {arrays} array{plural}"


def _percent(f: float) -> str:
    if f < 0.001:
        return "<0.1%"
    return f"{100 * f:.1f}%" if f < 0.1 else f"{100 * f:.0f}%"
