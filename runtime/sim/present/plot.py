"""PNG charts of a run: per-layer latency and energy, per-unit busy time, array occupancy.

`render` draws three images with matplotlib, an optional extra (``pip install 'imcc[plot]'``);
without it `render` raises `PlotUnavailable`. matplotlib is imported only when drawing, through
its Agg canvas (no pyplot, no global backend), with matplotlib's default style, a fixed size and
resolution and no software tag, so the same run gives byte-identical images:

- ``layers.png``: each layer's latency span (first start to last end, in cycles) and its dynamic
  energy stacked by category; a last row shows the whole run, static energy included (static
  power is a property of the run, not of a layer, so layers are not charged any).
- ``units.png``: busy cycles (summed over a unit's servers) and utilisation of every unit; more
  than `MAX_UNIT_ARRAYS` arrays collapse into one averaged row.
- ``arrays.png``: one small image per array of the target, cells coloured by the layer whose
  weights the program's ``xb.prog`` / ``xb.write`` windows put there, unused cells grey, with
  each used array's occupied fraction. Images are shrunk to at most one cell per pixel: a pixel
  shows a layer when any cell it covers holds one (the later layer in the legend where two meet).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from ..cost.report import layer_info, layer_name

FILES = ("layers.png", "units.png", "arrays.png")
INSTALL_HINT = "charts need matplotlib: pip install 'imcc[plot]'"
DPI = 100
WIDTH = 10.0  # inches, every chart
MARGIN = 0.12  # inches
HEADER = 0.7  # inches above the panels of a bar chart: title and subtitle
ROW = 0.2  # inches per bar
BAR = 0.7  # bar thickness, share of a row
LEGEND_ROW = 0.18  # inches per row of a legend in 8 pt
NAME_CHARS = 28  # longest row label before it is cut with an ellipsis
LEGEND_CHARS = 32  # longest layer name in the arrays.png legend
MAX_UNIT_ARRAYS = 32  # more arrays than this are shown as one row in units.png
GREY = "#cdcdcd"  # unused cells
DARK = "#3c3c3c"
FRAME = "#969696"  # outline of an unused array
SPAN_COLOR = "#466ea0"
ELLIPSIS = "\u2026"

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
OTHER_COLORS = ((23, 190, 207), (188, 189, 34), (227, 119, 194), (127, 127, 127))
_SHADES = (0.0, 0.35, -0.35, 0.6, -0.55, 0.15, -0.15)


class PlotUnavailable(RuntimeError):
    """The charts cannot be drawn: matplotlib (the ``plot`` extra) is not installed."""


def render(result, program) -> dict[str, bytes]:
    """PNG bytes by file name (`FILES`) for a finished run; `PlotUnavailable` without matplotlib.

    ``result`` is the runner's result (report, records and the target it ran on), ``program``
    the program it ran.
    """
    require_matplotlib()
    from matplotlib import style

    report = result.report.to_dict()
    energy = layer_energy(program, result.records, result.target)
    with style.context("default"):  # the user's matplotlibrc must not change the images
        return {
            "layers.png": to_png(layers_chart(report, energy)),
            "units.png": to_png(units_chart(report)),
            "arrays.png": to_png(arrays_chart(program, result.target)),
        }


def require_matplotlib() -> None:
    """Raise `PlotUnavailable` unless matplotlib and its Agg canvas can be imported."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends import backend_agg  # noqa: F401
    except ImportError as err:
        raise PlotUnavailable(INSTALL_HINT) from err


# --- data ------------------------------------------------------------------------------------


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


def category_colors(categories) -> dict[str, tuple[float, float, float]]:
    """An RGB colour (0..1) per energy category: one hue per family (array, cores, ...), shades
    within a family, other families from `OTHER_COLORS`."""
    out, members, extra = {}, {}, 0
    for cat in categories:
        family = cat.split(".", 1)[0]
        if family in FAMILY_COLORS:
            k = members.get(family, 0)
            members[family] = k + 1
            out[cat] = shade(FAMILY_COLORS[family], _SHADES[k % len(_SHADES)])
        else:
            out[cat] = shade(OTHER_COLORS[extra % len(OTHER_COLORS)], 0.0)
            extra += 1
    return out


def shade(rgb: tuple[int, int, int], amount: float) -> tuple[float, float, float]:
    """``rgb`` (0..255) as 0..1 floats, mixed towards white by ``amount`` > 0, black if < 0."""
    c = np.asarray(rgb, float) / 255
    c = c + (1 - c) * amount if amount >= 0 else c * (1 + amount)
    return tuple(float(v) for v in c)


def energy_unit(max_pj: float) -> tuple[float, str]:
    """(pJ per unit, unit name) that keeps ``max_pj`` between 1 and 1000 units where possible."""
    for factor, name in ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
        if max_pj >= factor * 0.9995:  # 999.7 pJ reads "1 nJ", not "1e+03 pJ"
            return factor, name
    return 1.0, "pJ"


def energy_text(pj: float) -> str:
    """``pj`` in its `energy_unit` with 3 significant digits, e.g. ``245 nJ``."""
    factor, unit = energy_unit(pj)
    return f"{pj / factor:.3g} {unit}"


def short_number(v: float) -> str:
    """``v`` with 3 significant digits and a k/M/G suffix: 13500 -> ``13.5k``."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor * 0.9995:
            return f"{v / factor:.3g}{suffix}"
    return f"{v:.3g}"


def fit(text: str, chars: int, middle: bool = False) -> str:
    """``text`` cut to ``chars`` characters with an ellipsis at its end (or in its middle)."""
    if len(text) <= chars:
        return text
    if not middle:
        return text[: chars - 1] + ELLIPSIS
    head = chars // 2
    tail = chars - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def collapse_arrays(units: list[dict]) -> list[dict]:
    """The report's units, arrays merged into one mean row when there are too many of them."""
    arrays = [u for u in units if u["unit"].startswith("array")]
    if len(arrays) <= MAX_UNIT_ARRAYS:
        return units
    merged = {
        "unit": f"arrays x{len(arrays)} (mean)",
        "busy_cycles": sum(u["busy_cycles"] for u in arrays) / len(arrays),
        "utilization": sum(u["utilization"] for u in arrays) / len(arrays),
    }
    return [merged] + [u for u in units if not u["unit"].startswith("array")]


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
    return owner_blocks(shape, windows, index_of).cells()


@dataclass(frozen=True)
class Blocks:
    """One array's owners as a grid of blocks that each hold one layer (or none).

    Cell rows ``rows[i]`` up to ``rows[i + 1]`` and columns ``cols[j]`` up to ``cols[j + 1]`` hold
    layer ``owner[i, j]`` (-1: none). Its size follows the number of windows, not of cells.
    """

    rows: np.ndarray
    cols: np.ndarray
    owner: np.ndarray

    def cells(self) -> np.ndarray:
        """The owner of every cell (what `occupancy` returns)."""
        return np.repeat(np.repeat(self.owner, np.diff(self.rows), 0), np.diff(self.cols), 1)

    def area(self) -> np.ndarray:
        """Cells in each block."""
        return np.outer(np.diff(self.rows), np.diff(self.cols))

    def counts(self, n_layers: int) -> np.ndarray:
        """Cells held by each of ``n_layers`` layers."""
        used = self.owner >= 0
        return np.bincount(self.owner[used], self.area()[used], n_layers).astype(np.int64)

    def fraction(self) -> float:
        """Share of the array's cells that hold weights."""
        area = self.area()
        return float(area[self.owner >= 0].sum() / area.sum())

    def sample(self, height: int, width: int) -> np.ndarray:
        """The cells shrunk (or grown) to height x width pixels; a pixel keeps its cells' maximum.

        Pixel row i covers cell rows floor(i·R/height) up to the next pixel's first row (at least
        one row), and likewise for columns.
        """
        r_part, r_first = _pixel_parts(self.rows, height)
        c_part, c_first = _pixel_parts(self.cols, width)
        parts = self.owner[np.ix_(r_part, c_part)]
        return np.maximum.reduceat(np.maximum.reduceat(parts, r_first, 0), c_first, 1)


def _pixel_parts(bounds: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Split blocks (edges ``bounds``) at the first cell of each of ``n`` pixels: the block of
    every part, and each pixel's first part."""
    firsts = (np.arange(n) * bounds[-1]) // n
    starts = np.union1d(bounds[:-1], firsts)
    return np.searchsorted(bounds, starts, "right") - 1, np.searchsorted(starts, firsts)


def owner_blocks(shape: tuple[int, int], windows, index_of: dict[str, int]) -> Blocks:
    """`Blocks` of one array of ``shape`` cells after ``windows`` are written in order."""
    edges = [(w.row0, w.row0 + w.rows, w.col0, w.col0 + w.cols) for w in windows]
    edges = np.clip(np.array(edges, np.int64).reshape(-1, 4), 0, np.repeat(shape, 2))
    rows = np.union1d(edges[:, :2], [0, shape[0]])
    cols = np.union1d(edges[:, 2:], [0, shape[1]])
    i0, i1 = np.searchsorted(rows, edges[:, :2].T)  # block rows of each window
    j0, j1 = np.searchsorted(cols, edges[:, 2:].T)
    owner = np.full((len(rows) - 1, len(cols) - 1), -1, np.int32)
    for w, a, b, c, d in zip(windows, i0, i1, j0, j1):
        owner[a:b, c:d] = index_of[w.layer]
    return Blocks(rows, cols, owner)


@dataclass(frozen=True)
class ArrayUse:
    """Which layer owns each cell: ``blocks[a]`` of every array ``a`` that a window programs
    (arrays left out hold nothing); owners index ``layers``."""

    layers: list[str]
    blocks: dict[int, Blocks]

    def cells(self) -> np.ndarray:
        """Cells held by each layer, over all arrays."""
        return sum(self._counts(), np.zeros(len(self.layers), np.int64))

    def arrays(self) -> np.ndarray:
        """Arrays holding at least one cell of each layer."""
        return sum((c > 0 for c in self._counts()), np.zeros(len(self.layers), np.int64))

    def _counts(self) -> list[np.ndarray]:
        return [b.counts(len(self.layers)) for b in self.blocks.values()]


def array_use(program, target) -> ArrayUse:
    """The layer owning each cell of every programmed array of ``target``."""
    windows = [w for w in program_windows(program) if 0 <= w.array < target.n_arrays]
    layers = list(dict.fromkeys(w.layer for w in windows))
    index_of = {name: i for i, name in enumerate(layers)}
    by_array: dict[int, list[Window]] = {}
    for w in windows:
        by_array.setdefault(w.array, []).append(w)
    blocks = {}
    for a in sorted(by_array):
        g = target.group_of(a)
        blocks[a] = owner_blocks((g.rows, g.cols), by_array[a], index_of)
    return ArrayUse(layers, blocks)


# --- figures ---------------------------------------------------------------------------------


def new_figure(height: float, constrained: bool = True):
    """A `WIDTH` x ``height`` inch figure on its own Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height = round(height * DPI) / DPI  # whole pixels, so inches map to pixel edges
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def to_png(fig) -> bytes:
    """The PNG bytes of ``fig``: fixed resolution, no software tag (so runs compare equal)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _titles(fig, title: str, subtitle: str) -> None:
    """Title and subtitle in the top `HEADER` inches, left-aligned."""
    h = fig.get_figheight()
    fig.text(MARGIN / WIDTH, 1 - 0.1 / h, title, fontsize=14, weight="bold", va="top")
    fig.text(MARGIN / WIDTH, 1 - 0.42 / h, subtitle, fontsize=8, color=DARK, va="top")


def _bar_panels(names: list[str], height: float):
    """A figure of two side-by-side bar panels, one row per name (first row on top)."""
    fig = new_figure(height)
    fig.get_layout_engine().set(rect=(0, 0, 1, 1 - HEADER / height), w_pad=0.06, wspace=0.04)
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))
    axes[0].set_yticks(y, [fit(n, NAME_CHARS, middle=True) for n in names], fontsize=8)
    axes[0].set_ylim(len(names) - 0.5, -0.5)
    axes[1].tick_params(labelleft=False, left=False)
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color="#e8e8e8", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def _bars(ax, left, width, color, limit: float, **kw):
    """Horizontal bars, one per row from the top; the x axis runs from 0 to ``limit``."""
    bars = ax.barh(np.arange(len(width)), width, left=left, height=BAR, color=color, **kw)
    ax.set_xlim(0, limit)
    return bars


def _end_labels(ax, bars, labels: list[str]) -> None:
    """``labels`` just right of the ends of ``bars``."""
    ax.bar_label(bars, labels=labels, padding=3, fontsize=7, color=DARK)


def _panel_title(ax, text: str) -> None:
    ax.set_title(text, loc="left", fontsize=9)


def _headroom(top: float) -> float:
    """An axis limit above ``top`` that leaves room for a bar's label."""
    return max(top, 1.0) * 1.2


# --- layers.png ------------------------------------------------------------------------------


def layers_chart(report: dict, energy: dict[str, dict[str, float]]):
    """Per-layer latency spans and energy stacked by category, with a whole-run row."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    total = report["total"]
    cats = list(report["energy_pj"])
    names = [lay["name"] for lay in report["layers"]] + ["whole run"]
    spans = np.array([(lay["start"], lay["end"]) for lay in report["layers"]] + [(0, 0)], float)
    spans[-1, 1] = total["cycles"]
    rows = [energy.get(n, {}) for n in names[:-1]] + [report["energy_pj"]]
    by_cat = np.array([[r.get(c, 0.0) for c in cats] for r in rows], float)
    by_cat = by_cat.reshape(len(rows), len(cats))
    legend_rows = math.ceil(len(cats) / 6)
    fig, (t_ax, e_ax) = _bar_panels(names, HEADER + ROW * len(names) + 0.55 + 0.22 * legend_rows)
    _titles(
        fig,
        "Per-layer latency and energy",
        f"target {report['target']['name']}: {total['cycles']:,} cycles, "
        f"{energy_text(total['energy_pj'])} ({energy_text(total['static_energy_pj'])} static, "
        "shown in the whole-run row only)",
    )
    lengths = spans[:, 1] - spans[:, 0]
    limit = _headroom(spans[:, 1].max())
    # an edge, so that a span of a few cycles still shows as a hairline
    bars = _bars(t_ax, spans[:, 0], lengths, SPAN_COLOR, limit, edgecolor=SPAN_COLOR, lw=0.5)
    _end_labels(t_ax, bars, [short_number(v) for v in lengths])
    t_ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))
    _panel_title(t_ax, "latency span (cycles, first start to last end)")
    totals = by_cat.sum(axis=1)
    factor, unit = energy_unit(totals.max(initial=0.0))
    scaled = by_cat / factor
    lefts = np.cumsum(scaled, axis=1) - scaled
    colors = category_colors(cats)
    for j, cat in enumerate(cats):
        _bars(e_ax, lefts[:, j], scaled[:, j], colors[cat], 1.0)
    bars = _bars(e_ax, 0, totals / factor, "none", _headroom(totals.max(initial=0) / factor))
    _end_labels(e_ax, bars, [energy_text(v) for v in totals])
    _panel_title(e_ax, f"energy ({unit}), dynamic by category")
    for ax in (t_ax, e_ax):
        ax.axhline(len(names) - 1.5, color=GREY, linewidth=0.8)
    handles = [Patch(color=colors[c], label=c) for c in cats]
    fig.legend(handles=handles, loc="outside lower left", ncols=6, fontsize=8, frameon=False)
    return fig


# --- units.png -------------------------------------------------------------------------------


def units_chart(report: dict):
    """Busy cycles and utilisation per unit; many arrays collapse into one averaged row."""
    from matplotlib.ticker import FuncFormatter

    units = collapse_arrays(report["units"])
    names = [u["unit"] for u in units]
    fig, (b_ax, u_ax) = _bar_panels(names, HEADER + ROW * len(names) + 0.55)
    _titles(
        fig,
        "Per-unit busy time and utilisation",
        f"target {report['target']['name']}: {report['total']['cycles']:,} cycles; busy cycles "
        "add up a unit's servers (cores, DMA engines); utilisation = busy / (servers x run time)",
    )
    colors = [_unit_color(n) for n in names]
    busy = np.array([u["busy_cycles"] for u in units], float)
    bars = _bars(b_ax, 0, busy, colors, _headroom(busy.max(initial=0)))
    _end_labels(b_ax, bars, [short_number(v) for v in busy])
    b_ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))
    _panel_title(b_ax, "busy cycles")
    pct = 100 * np.array([u["utilization"] for u in units], float)
    bars = _bars(u_ax, 0, pct, colors, 118)  # room right of 100% for a label
    _end_labels(u_ax, bars, [f"{v:.3g}%" for v in pct])
    u_ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
    _panel_title(u_ax, "utilisation")
    return fig


def _unit_color(unit: str) -> tuple[float, float, float]:
    family = "array" if unit.startswith("array") else unit
    return shade(FAMILY_COLORS.get(family, OTHER_COLORS[0]), 0.0)


# --- arrays.png ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrayLayout:
    """Where arrays.png draws things, in inches from the top left of the figure.

    ``tiles[i]`` is (x, y, w, h) of global array i; ``headers`` (y, text) sit above each array
    group; the legend starts at ``legend_y``.
    """

    tiles: np.ndarray
    headers: list[tuple[float, str]]
    legend_y: float


def array_layout(target) -> ArrayLayout:
    """Tile geometry for every array of ``target``: one grid per array group."""
    side = min(max(5.6 / math.sqrt(max(target.n_arrays, 1)), 0.28), 0.96)
    tiles = np.zeros((target.n_arrays, 4))
    headers, y = [], HEADER
    for g in target.arrays:
        big = max(g.rows, g.cols)
        tw, th = max(side * g.cols / big, 0.02), max(side * g.rows / big, 0.02)
        pitch_x, pitch_y = max(tw, 0.28) + 0.08, th + 0.3
        per_row = max(min(g.count, int((WIDTH - 2 * MARGIN) // pitch_x)), 1)
        text = f"{g.name} ({g.kind}): {g.count} arrays of {g.rows} x {g.cols} cells"
        headers.append((y, f"{text}, from index {g.first}"))
        k = np.arange(g.count)
        x = MARGIN + (k % per_row) * pitch_x + (pitch_x - tw) / 2
        tiles[g.first : g.first + g.count] = np.column_stack(
            [x, y + 0.33 + (k // per_row) * pitch_y, np.full(g.count, tw), np.full(g.count, th)]
        )
        y += 0.2 + math.ceil(g.count / per_row) * pitch_y + 0.06
    return ArrayLayout(np.round(tiles * DPI) / DPI, headers, y + 0.04)  # on whole pixels


def arrays_chart(program, target):
    """The occupancy map: every array an image, cells coloured by the layer programmed there."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    use = array_use(program, target)
    layout = array_layout(target)
    colors = layer_colors(len(use.layers))
    cells, arrays_of = use.cells(), use.arrays()
    items = [
        Patch(color=colors[i], label=_layer_entry(name, int(cells[i]), int(arrays_of[i])))
        for i, name in enumerate(use.layers)
    ] + [Patch(color=GREY, label="unused cells")]
    height = layout.legend_y + LEGEND_ROW * math.ceil(len(items) / 2) + 0.1
    fig, ax = _inch_axes(height)
    total_cells = sum(g.count * g.rows * g.cols for g in target.arrays)
    _titles(
        fig,
        "Array occupancy",
        f"target {target.name}: {len(use.blocks)} of {target.n_arrays} arrays hold weights, "
        f"{int(cells.sum()):,} of {total_cells:,} cells; % = occupied fraction of the array",
    )
    for y, text in layout.headers:
        ax.text(MARGIN, y, fit(text, 140), fontsize=8, va="top")
    cmap = ListedColormap([GREY, *colors])
    for a, (x, y, w, h) in enumerate(layout.tiles):
        picture = _picture(use.blocks.get(a), h, w)
        # vmin/vmax put owner k (-1: none) in the middle of colour k + 1 of cmap
        ax.imshow(
            picture, cmap=cmap, vmin=-1.5, vmax=len(use.layers) - 0.5, interpolation="nearest",
            extent=(x, x + w, y + h, y),
        )  # fmt: skip
    _tile_frames(ax, layout.tiles, use)
    _tile_labels(ax, layout.tiles, use)
    anchor = (MARGIN / WIDTH, 1 - layout.legend_y / height)
    fig.legend(
        handles=items, loc="upper left", bbox_to_anchor=anchor, ncols=2, fontsize=8,
        frameon=False, borderaxespad=0, handlelength=1.2,
    )  # fmt: skip
    return fig


def layer_colors(n: int) -> list[tuple[float, float, float]]:
    """``n`` layer colours: matplotlib's tab10 then tab20's light shades, greys left out."""
    from matplotlib import colormaps

    strong = [c for i, c in enumerate(colormaps["tab10"].colors) if i != 7]
    light = [c for i, c in enumerate(colormaps["tab20"].colors) if i % 2 and i != 15]
    cycle = strong + light
    return [tuple(cycle[i % len(cycle)]) for i in range(n)]


def _inch_axes(height: float):
    """A figure with one frameless axes over all of it whose data units are inches, y down."""
    fig = new_figure(height, constrained=False)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(fig.get_figheight(), 0)
    ax.set_axis_off()
    return fig, ax


def _picture(blocks: Blocks | None, h: float, w: float) -> np.ndarray:
    """What one array's image shows: its owners, at most one pixel per cell and no more pixels
    than the ``h`` x ``w`` inch tile has (so none is lost), or -1 if the array is unused."""
    if blocks is None:
        return np.full((1, 1), -1, np.int32)
    ph = min(int(blocks.rows[-1]), max(int(h * DPI + 1e-6), 1))
    pw = min(int(blocks.cols[-1]), max(int(w * DPI + 1e-6), 1))
    return blocks.sample(ph, pw)


def _tile_frames(ax, tiles: np.ndarray, use: ArrayUse) -> None:
    """A one-pixel frame just outside every array's image, dark if the array is used."""
    from matplotlib.collections import PolyCollection

    # snapped lines fill the pixel right of / below their coordinate: one pixel out on each side
    x, y, w, h = tiles.T + np.array([[-1], [-1], [1], [1]]) / DPI
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    polygons = np.stack([np.column_stack(c) for c in corners], axis=1)
    edges = [DARK if a in use.blocks else FRAME for a in range(len(tiles))]
    frames = PolyCollection(polygons, facecolors="none", edgecolors=edges, lw=0.6, snap=True)
    ax.add_collection(frames)


def _tile_labels(ax, tiles: np.ndarray, use: ArrayUse) -> None:
    """Every array's index above its image and, when used, its occupied share below."""
    size = 6 if len(tiles) > 64 else 7
    for a, (x, y, w, h) in enumerate(tiles):
        used = a in use.blocks
        color = "black" if used else FRAME
        ax.text(x + w / 2, y - 0.03, str(a), fontsize=size, color=color, ha="center", va="bottom")
        if used:
            share = _percent(use.blocks[a].fraction())
            ax.text(x + w / 2, y + h + 0.03, share, fontsize=size, ha="center", va="top")


def _layer_entry(name: str, cells: int, arrays: int) -> str:
    plural = "" if arrays == 1 else "s"
    return f"{fit(name, LEGEND_CHARS, middle=True)}: {cells:,} cells on {arrays} array{plural}"


def _percent(f: float) -> str:
    if f < 0.001:
        return "<0.1%"
    return f"{100 * f:.1f}%" if f < 0.1 else f"{100 * f:.0f}%"
