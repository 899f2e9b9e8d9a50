"""Run charts: the PNG encoder, the raster library, and the three plots of a run (with the CLI)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from _simkit import REPO, tiny_target
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.runtime.isa.asm import assemble_file
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.program import DebugInfo, Program
from imcc.runtime.sim.present import plot
from imcc.runtime.sim.present.png import encode_png
from imcc.runtime.sim.present.raster import (
    ELLIPSIS,
    GREY,
    Canvas,
    fit,
    nice_ticks,
    palette,
    text_mask,
    text_width,
)
from imcc.runtime.sim.runner import run_program
from imcc.runtime.tools.asm import main as asm_main
from imcc.runtime.tools.run import main as run_main

CONVNET = REPO / "examples" / "asm" / "convnet"
SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- a minimal PNG reader, written from the PNG specification --------------------------------


def _crc32(data: bytes) -> int:
    """CRC-32 (polynomial 0xEDB88320) bit by bit, independent of zlib."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def chunks(data: bytes, check_crc=zlib.crc32) -> list[tuple[bytes, bytes]]:
    """The (type, body) chunks of a PNG file, each CRC checked."""
    assert data[:8] == SIGNATURE
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == check_crc(kind + body) & 0xFFFFFFFF, kind
        out.append((kind, body))
        pos += 12 + n
    assert pos == len(data)
    return out


def decode_png(data: bytes) -> np.ndarray:
    """An (h, w, 3) uint8 image from 8-bit RGB PNG bytes (filters none, sub and up)."""
    parts = chunks(data)
    assert parts[0][0] == b"IHDR" and parts[-1] == (b"IEND", b"")
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", parts[0][1])
    assert (depth, ctype, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))
    lines = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
    out = np.zeros((h, 3 * w), np.uint8)
    prev = np.zeros(3 * w, np.uint8)
    for y in range(h):
        kind, line = lines[y, 0], lines[y, 1:]
        if kind == 0:
            cur = line
        elif kind == 1:
            cur = (np.cumsum(line.reshape(w, 3), axis=0, dtype=np.int64) % 256).astype(np.uint8)
            cur = cur.reshape(-1)
        elif kind == 2:
            cur = line + prev
        else:
            pytest.fail(f"row {y}: filter {kind} not expected from our encoder")
        out[y] = prev = cur
    return out.reshape(h, w, 3)


# --- png.py ----------------------------------------------------------------------------------


def test_one_pixel_png_has_the_known_header_and_crcs():
    data = encode_png(np.array([[[255, 0, 0]]], np.uint8))
    # IHDR of a 1 x 1 8-bit RGB image and IEND have well-known CRCs
    assert data[8:33] == (
        b"\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90\x77\x53\xde"
    )
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xae\x42\x60\x82"
    parts = chunks(data, check_crc=_crc32)
    assert [k for k, _ in parts] == [b"IHDR", b"IDAT", b"IEND"]
    assert zlib.decompress(parts[1][1]) == b"\x02\xff\x00\x00"  # filter byte, then R G B


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_png_decodes_to_the_same_pixels(h, w, seed):
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(img)), img)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 2), np.uint8), np.zeros((2, 2, 3), np.int16), np.zeros((0, 2, 3), np.uint8)],
)
def test_png_rejects_what_is_not_an_rgb8_image(bad):
    with pytest.raises(ValueError):
        encode_png(bad)


# --- raster.py -------------------------------------------------------------------------------


def test_text_is_drawn_with_distinct_glyphs_and_fits_with_an_ellipsis():
    masks = {ch: text_mask(ch).tobytes() for ch in map(chr, range(33, 127))}
    assert len(set(masks.values())) == len(masks)  # every printable character looks different
    assert text_mask("é").tobytes() == text_mask("?").tobytes()
    assert text_mask("ab", 2).shape == (18, text_width("ab", 2)) == (18, 22)
    assert fit("short", 100) == "short"
    cut = fit("/encoder/layer.3/attention/query/MatMul", 60, middle=True)
    assert text_width(cut) <= 60 and ELLIPSIS in cut
    assert cut.startswith("/enc") and cut.endswith("Mul")
    assert fit("abcdefghijkl", 30) == "abcd" + ELLIPSIS


def test_canvas_clips_and_draws():
    c = Canvas(10, 6)
    c.rect(-5, -5, 8, 8, (1, 2, 3))  # clipped to the 3 x 3 corner
    assert (c.pixels[:3, :3] == (1, 2, 3)).all() and (c.pixels[3:, 3:] == 255).all()
    c.line(0, 5, 9, 5, (9, 9, 9))
    assert (c.pixels[5] == 9).all()
    c.text(100, 100, "off the canvas")  # nothing to draw, no error
    width = c.text(4, 0, "A", (0, 0, 0))
    assert width == 5 and (c.pixels[:7, 4:9] == 0).any()


def test_ticks_and_palette():
    assert nice_ticks(19206) == [0, 5000, 10000, 15000, 20000]
    assert nice_ticks(0) == [0.0, 1.0]
    colors = [palette(i) for i in range(36)]
    assert len(set(colors)) == 36 and GREY not in colors
    assert palette(36) == palette(0)


# --- the three charts of a run ---------------------------------------------------------------


def _convnet_run():
    program = assemble_file(CONVNET / "convnet.s")
    return program, run_program(program, {"x": np.load(CONVNET / "x.npy")})


def test_convnet_charts_are_pngs_of_plausible_size_and_deterministic():
    program, result = _convnet_run()
    first = plot.render(result, program)
    assert list(first) == list(plot.FILES)
    for name, data in first.items():
        img = decode_png(data)
        assert 400 <= img.shape[1] <= 1200 and 100 <= img.shape[0] <= 2000, name
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 5, name  # more than a blank page
    program2, result2 = _convnet_run()
    assert plot.render(result2, program2) == first


def test_layer_energy_breaks_down_the_report_exactly():
    program, result = _convnet_run()
    energy = plot.layer_energy(program, result.records, result.target)
    layers = result.report.to_dict()["layers"]
    assert list(energy) == [lay["name"] for lay in layers]
    for lay in layers:
        assert sum(energy[lay["name"]].values()) == pytest.approx(lay["energy_pj"], rel=1e-12)
    assert set(energy["conv"]) >= {"array.adc", "cores"}
    assert set(energy["[weight programming]"]) == {"array.write", "mem.L2"}


def test_convnet_occupancy_map_colors_the_programmed_windows():
    program, result = _convnet_run()
    img = decode_png(plot.render(result, program)["arrays.png"])
    tiles = plot.array_layout(result.target).tiles
    conv, fc = np.array(palette(0)), np.array(palette(1))
    # array 0: conv weights in rows 0..26, cols 0..7; array 1: fc in rows 0..7, cols 0..3
    for array, rows, cols, color in ((0, 27, 8, conv), (1, 8, 4, fc)):
        x, y, w, h = tiles[array]
        tile = img[y : y + h, x : x + w]
        inside_r, inside_c = rows * h // 256, cols * w // 256  # pixels wholly inside the window
        assert (tile[: max(inside_r, 1), : max(inside_c, 1)] == color).all()
        outside_r, outside_c = -(-(rows * h) // 256) + 1, -(-(cols * w) // 256) + 1
        assert (tile[outside_r:, :] == GREY).all() and (tile[:, outside_c:] == GREY).all()
    for array in (2, 64, 127):
        x, y, w, h = tiles[array]
        assert (img[y : y + h, x : x + w] == GREY).all()


def test_occupancy_map_is_exact_cell_by_cell():
    """On the tiny target (32 x 32 and 16 x 16 arrays) every cell is a whole square of pixels."""
    target = tiny_target()
    windows = [  # (layer, mnemonic, array, row0, col0, rows, cols); later writes win
        ("alpha", "xb.prog", 0, 8, 4, 16, 16),
        ("beta", "xb.prog", 0, 20, 10, 6, 20),
        ("gamma", "xb.write", 4, 0, 3, 5, 7),
        ("alpha", "xb.prog", 7, 0, 0, 32, 32),
    ]
    instrs, debug = [], {}
    for i, (layer, mnemonic, array, r0, c0, rows, cols) in enumerate(windows):
        fields = dict(array=array, row0=r0, col0=c0, rows=rows, cols=cols)
        if mnemonic == "xb.prog":
            instrs.append(Instr.make("xb.prog", fmt="t2", src_mem="L2", src_addr=0, **fields))
        else:
            instrs.append(Instr.make("xb.write", src_mem="L1", src_addr=0, src_stride=7, **fields))
        debug[i] = DebugInfo("imc.program", layer)
    program = Program(instrs=instrs, debug=debug)
    img = decode_png(plot.arrays_chart(program, target).to_png())
    tiles = plot.array_layout(target).tiles
    assert len(tiles) == target.n_arrays == 8
    color = {"alpha": palette(0), "beta": palette(1), "gamma": palette(2)}
    for array, (x, y, w, h) in enumerate(tiles):
        g = target.group_of(array)
        owner = [[None] * g.cols for _ in range(g.rows)]
        for layer, _, a, r0, c0, rows, cols in windows:
            for r in range(r0, r0 + rows):
                for c in range(c0, c0 + cols):
                    if a == array:
                        owner[r][c] = layer
        assert h % g.rows == 0 and w % g.cols == 0  # whole pixels per cell on this target
        sy, sx = h // g.rows, w // g.cols
        expected = np.array(
            [[color[owner[py // sy][px // sx]] if owner[py // sy][px // sx] else GREY
              for px in range(w)] for py in range(h)],
            np.uint8,
        )  # fmt: skip
        assert np.array_equal(img[y : y + h, x : x + w], expected), f"array {array}"


def test_occupancy_counts_cells_once_with_the_last_writer():
    windows = [plot.Window(0, 0, 0, 4, 4, "a"), plot.Window(0, 2, 2, 4, 4, "b")]
    owner = plot.occupancy((8, 8), windows, {"a": 0, "b": 1})
    assert np.bincount(owner[owner >= 0]).tolist() == [12, 16]
    assert plot.downsample(owner, 2, 2).tolist() == [[1, 1], [1, 1]]
    assert plot.downsample(owner, 4, 4)[2:].tolist() == [[-1, 1, 1, -1], [-1] * 4]


def test_imcc_run_plot_writes_the_three_charts(tmp_path):
    binary = tmp_path / "convnet.bin"
    assert asm_main([str(CONVNET / "convnet.s"), "-o", str(binary)]) == 0
    out = tmp_path / "plots"
    assert run_main([str(binary), "--input", f"x={CONVNET / 'x.npy'}", "--plot", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(plot.FILES)  # no temporary files left
    program, result = _convnet_run()
    for name, data in plot.render(result, program).items():
        assert (out / name).read_bytes() == data
