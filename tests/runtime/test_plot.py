"""Run charts: the exact data behind them, the three PNGs of a run, and what happens without
matplotlib (an optional extra), in the library and in ``imcc-run --plot``."""

from __future__ import annotations

import io
import struct
import sys

import numpy as np
import pytest
from _simkit import REPO, tiny_target
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.runtime.isa.asm import assemble_file
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.program import DebugInfo, Program
from imcc.runtime.sim.present import plot
from imcc.runtime.sim.runner import run_program
from imcc.runtime.targets import load_target
from imcc.runtime.tools.asm import main as asm_main
from imcc.runtime.tools.run import main as run_main

CONVNET = REPO / "examples" / "asm" / "convnet"
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _convnet_run():
    program = assemble_file(CONVNET / "convnet.s")
    return program, run_program(program, {"x": np.load(CONVNET / "x.npy")})


@pytest.fixture(scope="module")
def convnet():
    """(program, result, charts) of one convnet run."""
    program, result = _convnet_run()
    return program, result, plot.render(result, program)


def _program(windows) -> Program:
    """A program of xb.prog / xb.write instructions, each attributed to its window's layer."""
    instrs, debug = [], {}
    for i, (layer, mnemonic, array, r0, c0, rows, cols) in enumerate(windows):
        fields = dict(array=array, row0=r0, col0=c0, rows=rows, cols=cols)
        if mnemonic == "xb.prog":
            instrs.append(Instr.make("xb.prog", fmt="t2", src_mem="L2", src_addr=0, **fields))
        else:
            instrs.append(Instr.make("xb.write", src_mem="L1", src_addr=0, src_stride=7, **fields))
        debug[i] = DebugInfo("imc.program", layer)
    return Program(instrs=instrs, debug=debug)


def _painted(shape, windows, index_of) -> np.ndarray:
    """Oracle of `plot.occupancy`: per cell, the layer of the last window that covers it."""
    r, c = np.indices(shape)
    owner = np.full(shape, -1)
    for w in windows:  # later windows win
        inside = (w.row0 <= r) & (r < w.row0 + w.rows) & (w.col0 <= c) & (c < w.col0 + w.cols)
        owner[inside] = index_of[w.layer]
    return owner


def _pixel_max(cells: np.ndarray, height: int, width: int) -> np.ndarray:
    """Oracle of `Blocks.sample`: pixel (i, j) is the maximum of its rows x columns of cells."""
    (rows, cols), out = cells.shape, np.empty((height, width), cells.dtype)
    for i in range(height):
        r0 = i * rows // height
        r1 = max((i + 1) * rows // height, r0 + 1)
        for j in range(width):
            c0 = j * cols // width
            c1 = max((j + 1) * cols // width, c0 + 1)
            out[i, j] = cells[r0:r1, c0:c1].max()
    return out


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which a PNG file starts with."""
    assert data[:8] == SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --- the data behind the charts --------------------------------------------------------------


def test_layer_energy_breaks_down_the_report_exactly(convnet):
    program, result, _ = convnet
    energy = plot.layer_energy(program, result.records, result.target)
    layers = result.report.to_dict()["layers"]
    assert list(energy) == [lay["name"] for lay in layers]
    for lay in layers:
        assert sum(energy[lay["name"]].values()) == pytest.approx(lay["energy_pj"], rel=1e-12)
    assert set(energy["conv"]) >= {"array.adc", "cores"}
    assert set(energy["[weight programming]"]) == {"array.write", "mem.L2"}


def test_occupancy_is_exact_cell_by_cell_on_the_tiny_target():
    target = tiny_target()
    windows = [  # (layer, mnemonic, array, row0, col0, rows, cols); later writes win
        ("alpha", "xb.prog", 0, 8, 4, 16, 16),
        ("beta", "xb.prog", 0, 20, 10, 6, 20),
        ("gamma", "xb.write", 4, 0, 3, 5, 7),
        ("alpha", "xb.prog", 7, 0, 0, 32, 32),
    ]
    use = plot.array_use(_program(windows), target)
    assert use.layers == ["alpha", "beta", "gamma"] and sorted(use.blocks) == [0, 4, 7]
    index_of = {"alpha": 0, "beta": 1, "gamma": 2}
    for array in range(target.n_arrays):
        g = target.group_of(array)
        mine = [
            plot.Window(a, r0, c0, r, c, ly) for ly, _, a, r0, c0, r, c in windows if a == array
        ]
        expected = _painted((g.rows, g.cols), mine, index_of)
        assert np.array_equal(plot.occupancy((g.rows, g.cols), mine, index_of), expected)
        if array in use.blocks:
            assert np.array_equal(use.blocks[array].cells(), expected), f"array {array}"
        else:
            assert (expected == -1).all()
    # alpha: 16 x 16 on array 0 less the 4 x 10 that beta overwrites, plus all of array 7
    assert use.cells().tolist() == [256 - 40 + 1024, 120, 35]
    assert use.arrays().tolist() == [2, 1, 1]
    assert use.blocks[0].fraction() == (256 - 40 + 120) / 1024
    assert use.blocks[4].fraction() == 35 / 256 and use.blocks[7].fraction() == 1.0


def test_occupancy_counts_cells_once_with_the_last_writer():
    windows = [plot.Window(0, 0, 0, 4, 4, "a"), plot.Window(0, 2, 2, 4, 4, "b")]
    owner = plot.occupancy((8, 8), windows, {"a": 0, "b": 1})
    assert np.bincount(owner[owner >= 0]).tolist() == [12, 16]
    blocks = plot.owner_blocks((8, 8), windows, {"a": 0, "b": 1})
    assert blocks.owner.shape == (4, 4)  # edges 0, 2, 4, 6, 8 on each axis
    assert blocks.counts(2).tolist() == [12, 16]
    assert blocks.sample(2, 2).tolist() == [[1, 1], [1, 1]]
    assert blocks.sample(4, 4)[2:].tolist() == [[-1, 1, 1, -1], [-1] * 4]


def test_convnet_weights_sit_where_the_program_puts_them(convnet):
    program, result, _ = convnet
    use = plot.array_use(program, result.target)
    assert use.layers == ["conv", "fc"] and sorted(use.blocks) == [0, 1]
    for array, rows, cols, layer in ((0, 27, 8, 0), (1, 8, 4, 1)):  # 27 x 8 conv, 8 x 4 fc
        expected = np.full((256, 256), -1)
        expected[:rows, :cols] = layer
        assert np.array_equal(use.blocks[array].cells(), expected)
    assert use.cells().tolist() == [216, 32] and use.arrays().tolist() == [1, 1]


windows_st = st.lists(
    st.tuples(st.integers(0, 19), st.integers(0, 12), st.integers(1, 20), st.integers(1, 13)),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(windows_st, st.integers(1, 25), st.integers(1, 16))
def test_blocks_agree_with_the_cells_at_any_size(raw, height, width):
    shape = (20, 13)
    windows = [
        plot.Window(0, r0, c0, min(r, shape[0] - r0), min(c, shape[1] - c0), f"L{i % 3}")
        for i, (r0, c0, r, c) in enumerate(raw)
    ]
    index_of = {"L0": 0, "L1": 1, "L2": 2}
    cells = _painted(shape, windows, index_of)
    blocks = plot.owner_blocks(shape, windows, index_of)
    assert np.array_equal(blocks.cells(), cells)
    assert blocks.counts(3).tolist() == np.bincount(cells[cells >= 0], minlength=3).tolist()
    assert np.array_equal(blocks.sample(height, width), _pixel_max(cells, height, width))


def test_many_arrays_collapse_into_one_mean_row():
    arrays = [{"unit": f"array{i}", "busy_cycles": i, "utilization": i / 100} for i in range(40)]
    units = arrays + [{"unit": "cores", "busy_cycles": 7, "utilization": 0.5}]
    rows = plot.collapse_arrays(units)
    assert [u["unit"] for u in rows] == ["arrays x40 (mean)", "cores"]
    assert rows[0]["busy_cycles"] == 19.5 and rows[0]["utilization"] == pytest.approx(0.195)
    assert plot.collapse_arrays(units[-33:]) == units[-33:]  # 32 arrays keep their rows


def test_labels_numbers_and_colors():
    assert plot.fit("short", 10) == "short"
    cut = plot.fit("/encoder/layer.3/attention/query/MatMul", 12, middle=True)
    assert len(cut) == 12 and cut.startswith("/encod") and cut.endswith("atMul")
    assert plot.fit("abcdefghijkl", 5) == "abcd" + plot.ELLIPSIS
    assert [plot.short_number(v) for v in (23, 13500, 19206, 999.7, 2.5e6)] == [
        "23", "13.5k", "19.2k", "1k", "2.5M",
    ]  # fmt: skip
    assert plot.energy_text(245335.32) == "245 nJ" and plot.energy_text(37.6) == "37.6 pJ"
    cats = ["array.adc", "array.dac", "cores", "mem.L1", "mem.L2", "static", "photonic"]
    colors = plot.category_colors(cats)
    assert len(set(colors.values())) == len(cats)
    assert all(0 <= v <= 1 for c in colors.values() for v in c)


# --- the PNGs --------------------------------------------------------------------------------


def test_convnet_charts_are_pngs_of_plausible_size_and_deterministic(convnet):
    from matplotlib.image import imread

    _, _, first = convnet
    assert list(first) == list(plot.FILES)
    for name, data in first.items():
        width, height = _png_size(data)
        assert width == plot.WIDTH * plot.DPI and 150 <= height <= 2000, name
        img = imread(io.BytesIO(data), format="png")
        assert img.shape[:2] == (height, width), name
        colors = np.unique((img[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
        assert len(colors) > 20, name  # more than a blank page
        assert b"Software" not in data and b"Matplotlib" not in data, name
    program2, result2 = _convnet_run()
    assert plot.render(result2, program2) == first


def test_charts_ignore_the_users_matplotlib_settings(convnet):
    import matplotlib

    program, result, first = convnet
    settings = {"font.size": 20, "axes.facecolor": "red", "figure.dpi": 50, "savefig.dpi": 30}
    with matplotlib.rc_context(settings):
        assert plot.render(result, program) == first


def test_arrays_chart_of_a_full_128_array_target_is_drawn():
    cluster = load_target("cluster")
    windows = [(f"layer{a % 40}", "xb.prog", a, 0, 0, 1 + 2 * a, 256 - a) for a in range(128)]
    fig = plot.arrays_chart(_program(windows), cluster)
    width, height = _png_size(plot.to_png(fig))
    assert width == 1000 and 700 <= height <= 2000


# --- without matplotlib ----------------------------------------------------------------------


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make every ``import matplotlib...`` fail, as if the extra were not installed."""
    loaded = [name for name in sys.modules if name.split(".")[0] == "matplotlib"]
    for name in {"matplotlib", *loaded}:
        monkeypatch.setitem(sys.modules, name, None)


def test_render_without_matplotlib_says_how_to_install_it(convnet, no_matplotlib):
    program, result, _ = convnet
    with pytest.raises(plot.PlotUnavailable, match=r"pip install 'imcc\[plot\]'") as err:
        plot.render(result, program)
    assert str(err.value) == "charts need matplotlib: pip install 'imcc[plot]'"


def test_imcc_run_plot_without_matplotlib_is_one_error_line(tmp_path, capsys, no_matplotlib):
    binary = tmp_path / "convnet.bin"
    assert asm_main([str(CONVNET / "convnet.s"), "-o", str(binary)]) == 0
    capsys.readouterr()
    out, plots = tmp_path / "out", tmp_path / "plots"
    argv = [str(binary), "--input", f"x={CONVNET / 'x.npy'}", "-o", str(out), "--plot", str(plots)]
    assert run_main(argv) == 1
    err = capsys.readouterr().err
    assert err == "error: charts need matplotlib: pip install 'imcc[plot]'\n"
    assert not out.exists() and not plots.exists()  # all or nothing


# --- imcc-run --plot -------------------------------------------------------------------------


def test_imcc_run_plot_writes_the_three_charts(tmp_path, convnet):
    _, _, charts = convnet
    binary = tmp_path / "convnet.bin"
    assert asm_main([str(CONVNET / "convnet.s"), "-o", str(binary)]) == 0
    out = tmp_path / "plots"
    assert run_main([str(binary), "--input", f"x={CONVNET / 'x.npy'}", "--plot", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(plot.FILES)  # no temporary files left
    for name, data in charts.items():
        assert (out / name).read_bytes() == data
