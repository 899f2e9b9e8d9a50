"""The hand-written assembly examples: assemble, disassemble, run, compare with plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import REPO
from imcc.runtime.isa.asm import assemble, assemble_file
from imcc.runtime.isa.disasm import disassemble
from imcc.runtime.isa.program import Program
from imcc.runtime.sim.runner import run_program

EXAMPLES = REPO / "examples" / "asm"
F32 = np.float32


def _npy(folder, name):
    return np.load(EXAMPLES / folder / f"{name}.npy", allow_pickle=False)


def _adc(y, shift, bits=8):
    return np.clip(np.rint(y / 2.0**shift), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1) * 2**shift


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / np.cumsum(e, axis=1, dtype=F32)[:, -1:]


def mlp2_reference(ideal: bool) -> np.ndarray:
    """The MLP of examples/asm/mlp2 in plain numpy."""
    d = {k: _npy("mlp2", k) for k in ("x", "w1", "w2", "s1", "b1", "s2", "b2")}
    xq = np.clip(np.rint(d["x"] / F32(0.05)), -128, 127).astype(np.int64)
    y1 = xq @ d["w1"].astype(np.int64)
    y1 = y1 if ideal else _adc(y1, 4)
    h = np.clip(np.rint(y1.astype(F32) * d["s1"] + d["b1"]), 0, 127).astype(np.int64)
    y2 = h @ d["w2"].astype(np.int64)
    y2 = y2 if ideal else _adc(y2, 6)
    return _softmax(y2.astype(F32) * d["s2"] + d["b2"])


def convnet_reference(ideal: bool) -> np.ndarray:
    """The conv net of examples/asm/convnet in plain numpy."""
    d = {k: _npy("convnet", k) for k in ("x", "wc", "sc", "bc", "wd", "sd", "wf", "sf", "bias")}
    xp = np.zeros((10, 10, 3), np.int64)
    xp[1:9, 1:9] = d["x"]
    patches = np.stack([xp[i : i + 3, j : j + 3].reshape(-1) for i in range(8) for j in range(8)])
    c1 = patches @ d["wc"].astype(np.int64)
    c1 = c1 if ideal else _adc(c1, 5)
    a1 = np.clip(np.rint(c1.astype(F32) * d["sc"] + d["bc"]), 0, 127).reshape(8, 8, 8)
    ap = np.zeros((10, 10, 8), np.int64)
    ap[1:9, 1:9] = a1
    d1 = sum(
        ap[i : i + 8, j : j + 8] * d["wd"][i, j].astype(np.int64)
        for i in range(3)
        for j in range(3)
    )
    a2 = np.clip(np.rint(d1.reshape(64, 8).astype(F32) * d["sd"]), 0, 100)
    g = np.rint(np.cumsum(a2.astype(F32), axis=0, dtype=F32)[-1] / F32(64)).astype(np.int64)
    f1 = g @ d["wf"].astype(np.int64)
    f1 = f1 if ideal else _adc(f1, 3)
    z = f1.astype(F32) * d["sf"] + d["bias"]
    return _softmax(z[None, :])


def fat_layer_reference(ideal: bool) -> np.ndarray:
    """The ternary layer of examples/asm/fat_layer: digital arrays are exact in every mode."""
    y = _npy("fat_layer", "x").astype(np.int64) @ _npy("fat_layer", "w").astype(np.int64)
    return y.astype(np.int32)


CASES = {"mlp2": mlp2_reference, "convnet": convnet_reference, "fat_layer": fat_layer_reference}


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_assembles_and_disassembles_to_the_same_bytes(name):
    program = assemble_file(EXAMPLES / name / f"{name}.s")
    binary = program.to_bytes()
    again = assemble(disassemble(Program.from_bytes(binary)))
    assert again.to_bytes() == binary


@pytest.mark.parametrize("mode", ["ideal", "adc"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs_bit_exact(name, mode):
    program = Program.from_bytes(assemble_file(EXAMPLES / name / f"{name}.s").to_bytes())
    result = run_program(program, {"x": _npy(name, "x")}, mode=mode)
    got = result.outputs["y"]
    want = CASES[name](ideal=mode == "ideal")
    assert got.dtype == want.dtype and np.array_equal(got, want)
    layers = [lay["name"] for lay in result.report.to_dict()["layers"]]
    assert layers[0] == "[weight programming]"
    assert {"fc1", "conv", "layer"} & set(layers)


def test_fat_example_parapim_baseline_is_about_ten_times_slower():
    program = assemble_file(EXAMPLES / "fat_layer" / "fat_layer.s")
    x = {"x": _npy("fat_layer", "x")}
    fat = run_program(program, x)
    parapim = run_program(program, x, overrides={"arrays.fat.addition": "parapim"})
    assert np.array_equal(fat.outputs["y"], parapim.outputs["y"])
    assert 9.0 < parapim.report.cycles / fat.report.cycles < 10.5


def test_adc_mode_differs_from_ideal_where_the_adc_clips():
    assert not np.array_equal(mlp2_reference(True), mlp2_reference(False))
