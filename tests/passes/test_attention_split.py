"""attention-split: nn.attention per head, its products as quant.dynamic_matmul on per-vector
int8 operands; the dynamic_matmul semantics against an independent integer formulation."""

from __future__ import annotations

import numpy as np
import pytest
from imcc.compiler import passes  # noqa: F401  (registers the passes)
from imcc.compiler.backend.target import set_target
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir import parse_module
from imcc.compiler.pm import PassFailure, PassManager, parse_pipeline
from imcc.compiler.precision.calibration import attach_calibration

SHAPES = {"q": (2, 6, 16), "k": (2, 9, 16), "v": (2, 9, 8), "m": (2, 1, 1, 9)}
IR = """"func.func"() ({
^bb0(%q: tensor<2x6x16xf32>, %k: tensor<2x9x16xf32>, %v: tensor<2x9x8xf32>, %m: tensor<2x1x1x9xf32>):
  %z = "onnx.NoValue"() : () -> none
  %y = "nn.attention"(%q, %k, %v, %m, %z) {num_heads = 2, scale = 0.35355} : (tensor<2x6x16xf32>, tensor<2x9x16xf32>, tensor<2x9x8xf32>, tensor<2x1x1x9xf32>, none) -> tensor<2x6x8xf32>
  "func.return"(%y) : (tensor<2x6x8xf32>) -> ()
}) {arg_names = ["q", "k", "v", "m"], function_type = (tensor<2x6x16xf32>, tensor<2x9x16xf32>, tensor<2x9x8xf32>, tensor<2x1x1x9xf32>) -> tensor<2x6x8xf32>, sym_name = "main"} : () -> ()
"""


def _inputs(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items() if k != "m"}
    mask = np.zeros(SHAPES["m"], np.float32)
    mask[1, ..., -3:] = -1e4  # the second sentence has three padding keys
    return {**x, "m": mask}


def _module(target: str = "bert-chip", overrides=None):
    m = parse_module(IR, "attention.mlir")
    set_target(m, target, overrides)
    attach_calibration(m, {k: np.concatenate([v, v]) for k, v in _inputs(1).items()})
    return m


def _names(m) -> list[str]:
    return [op.name for op in m.walk()]


def test_split_attention_stays_close_to_float_attention():
    m = _module()
    x = _inputs(2)
    want = run_module(m, x).as_list()[0]
    PassManager(parse_pipeline("attention-split")).run(m)
    names = _names(m)
    assert "nn.attention" not in names and names.count("quant.dynamic_matmul") == 2
    assert names.count("quant.dynamic_quantize") == 4  # Q, K, V per vector, P per row
    got = run_module(m, x).as_list()[0]
    err = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert err < 0.03, err
    shifts = [op.get_attr("adc_shift") for op in m.walk() if op.name == "quant.dynamic_matmul"]
    assert all(0 <= s < 31 for s in shifts) and any(s > 0 for s in shifts), shifts


def test_a_key_range_beyond_one_array_is_cut_into_row_tiles():
    m = _module(overrides={"arrays.attn.rows": "4", "arrays.attn.cols": "4"})
    PassManager(parse_pipeline("attention-split")).run(m)
    rows = {op.get_attr("array_rows") for op in m.walk() if op.name == "quant.dynamic_matmul"}
    assert rows == {4}
    PassManager(parse_pipeline("dynamic-array-map")).run(m)
    writes = [op for op in m.walk() if op.name == "imc.write"]
    # Q.K^T: 4 groups x ceil(8 / 4) row tiles x ceil(9 / 4) column tiles; P.V: 4 x 3 x 1
    assert len(writes) == 4 * 2 * 3 + 4 * 3 * 1
    # round robin over the 64 dynamic arrays, which follow the 320 static ones
    assert [op.get_attr("array") for op in writes] == list(range(320, 320 + len(writes)))


@pytest.mark.parametrize("target,placement", [("cluster", "auto"), ("bert-chip", "cores")])
def test_attention_stays_on_the_cores_when_asked_or_without_dynamic_arrays(target, placement):
    m = _module(target)
    PassManager(parse_pipeline(f"attention-split{{placement={placement}}}")).run(m)
    assert "nn.attention" in _names(m) and "quant.dynamic_matmul" not in _names(m)


def test_dynamic_arrays_are_refused_on_a_target_without_them():
    m = _module("cluster")
    with pytest.raises(PassFailure, match="target 'cluster' has no dynamic arrays"):
        PassManager(parse_pipeline("attention-split{placement=dynamic-arrays}")).run(m)


PRODUCT = """"func.func"() ({
^bb0(%a: tensor<3x5x20xi8>, %sa: tensor<3x5x1xf32>, %b: tensor<3x20x7xi8>, %sb: tensor<3x1x7xf32>):
  %y = "quant.dynamic_matmul"(%a, %sa, %b, %sb) {adc_bits = BITS, adc_shift = SHIFT, array_rows = 8} : (tensor<3x5x20xi8>, tensor<3x5x1xf32>, tensor<3x20x7xi8>, tensor<3x1x7xf32>) -> tensor<3x5x7xf32>
  "func.return"(%y) : (tensor<3x5x7xf32>) -> ()
}) {arg_names = ["a", "sa", "b", "sb"], function_type = (tensor<3x5x20xi8>, tensor<3x5x1xf32>, tensor<3x20x7xi8>, tensor<3x1x7xf32>) -> tensor<3x5x7xf32>, sym_name = "main"} : () -> ()
"""


@pytest.mark.parametrize("bits,shift", [(0, 0), (6, 3), (12, 0)])
def test_dynamic_matmul_reads_each_row_tile_through_the_adc(bits, shift):
    rng = np.random.default_rng(bits)
    x = {
        "a": rng.integers(-127, 128, (3, 5, 20)).astype(np.int8),
        "sa": rng.random((3, 5, 1)).astype(np.float32),
        "b": rng.integers(-127, 128, (3, 20, 7)).astype(np.int8),
        "sb": rng.random((3, 1, 7)).astype(np.float32),
    }
    m = parse_module(PRODUCT.replace("BITS", str(bits)).replace("SHIFT", str(shift)), "p.mlir")
    got = run_module(m, x).as_list()[0]
    acc = np.zeros((3, 5, 7), np.int64)
    for r0 in (0, 8, 16):  # row tiles of 8 inputs
        part = x["a"][..., r0 : r0 + 8].astype(np.int64) @ x["b"][:, r0 : r0 + 8].astype(np.int64)
        if bits:
            half = 1 << (bits - 1)
            part = np.clip(np.rint(part / 2.0**shift), -half, half - 1).astype(np.int64) << shift
        acc += part
    want = acc.astype(np.float32) * x["sa"] * x["sb"]
    np.testing.assert_array_equal(got, want)
