"""Every level agrees: the interpreter on the quant and imc IR and the simulated chip running the
emitted prog.bin give the same bits; fp32 programs match onnxruntime.

The bundled digits networks run on every target and precision here; the large built models
(``make models``) run when ``IMCC_TEST_BUILT_MODELS=1`` (``make test`` sets it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from _diff import assert_same_bits, run_levels

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from models.cnn.digits_data import load_split  # noqa: E402

DIGITS = {
    "digits_cnn": REPO / "models" / "digits" / "digits_cnn.onnx",
    "digits_mbv2": REPO / "models" / "digits" / "digits_mbv2.onnx",
}
BUILD = REPO / "models" / "build"
BUILT = os.environ.get("IMCC_TEST_BUILT_MODELS") == "1"


@pytest.fixture(scope="module")
def digits():
    split = load_split()
    return {"input": split.x_test[:6]}, {"input": split.x_calib[:48]}


CASES = [
    ("cluster", "fp32"),
    ("cluster", "int8"),
    ("cluster", "ternary"),
    ("cluster", "auto"),
    ("fat", "ternary"),
]


@pytest.mark.parametrize("name", sorted(DIGITS))
@pytest.mark.parametrize("target,precision", CASES)
def test_digits_networks_agree_at_every_level(name, target, precision, digits):
    inputs, calibration = digits
    kw = {"accuracy_budget": 0.02} if precision == "auto" else {}
    quant, imc, binary, result = run_levels(
        str(DIGITS[name]), inputs, precision, target, calibration=calibration, **kw
    )
    assert_same_bits(quant, imc, "quant vs imc")
    assert_same_bits(imc, binary, "imc vs prog.bin")
    assert result.report.cycles > 0
    if precision != "fp32":
        assert "(the weights fit one chip)" in result.report.to_text()
    if precision == "fp32":
        want = ort.InferenceSession(str(DIGITS[name])).run(None, inputs)[0]
        scale = np.abs(want).max()
        assert np.abs(binary[0] - want).max() <= 1e-4 * scale


@pytest.mark.parametrize(
    "target,group,precision", [("cluster", "ima", "int8"), ("fat", "fat", "ternary")]
)
def test_layers_larger_than_the_chip_reprogram_within_the_layer(target, group, precision, digits):
    """On two 64x64 arrays, layers wider or deeper than the chip run over several epochs; the
    accumulator keeps their partial sums across the reprogramming."""
    inputs, calibration = digits
    small = {f"arrays.{group}.{k}": v for k, v in (("count", 2), ("rows", 64), ("cols", 64))}
    quant, imc, binary, result = run_levels(
        str(DIGITS["digits_cnn"]),
        inputs,
        precision,
        target,
        calibration=calibration,
        target_overrides=small,
    )
    assert_same_bits(quant, imc, "quant vs imc")
    assert_same_bits(imc, binary, "imc vs prog.bin")
    text = result.report.to_text()
    assert "larger than the chip run over several epochs" in text, text
    assert "the weights do not fit one chip" in text, text
    assert "strategies: one chip reprogrammed over" in text and "chips of" in text, text
    assert "reprogrammed between them" in text


@pytest.mark.parametrize(
    "name,target,precision",
    [
        ("digits_cnn", "cluster", "ternary"),
        ("digits_cnn", "fat", "ternary"),
        ("digits_mbv2", "cluster", "int8"),
    ],
)
def test_a_batch_larger_than_l1_runs_in_tiles(name, target, precision):
    """540 images: every crossbar layer's input, accumulator and output exceed L1, so the
    layers run in tiles of images streamed through L1, and the program still agrees."""
    split = load_split()
    x = np.concatenate([split.x_test] * 3)[:540]
    quant, imc, binary, result = run_levels(
        str(DIGITS[name]), {"input": x}, precision, target, calibration={"input": split.x_calib}
    )
    assert_same_bits(quant, imc, "quant vs imc")
    assert_same_bits(imc, binary, "imc vs prog.bin")
    memory = [line for line in result.report.to_text().splitlines() if line.startswith("memory")]
    assert memory and "layers run in tiles through L1" in memory[0], memory


def test_digits_ternary_program_keeps_the_interpreters_accuracy(digits):
    split = load_split()
    x, labels = split.x_test[:120], split.y_test[:120]
    quant, _, binary, _ = run_levels(
        str(DIGITS["digits_cnn"]), {"input": x}, "ternary", calibration={"input": split.x_calib}
    )
    assert_same_bits(quant, binary, "quant vs prog.bin")
    accuracy = float((binary[0].argmax(axis=1) == labels).mean())
    assert accuracy >= 0.9


BUILT_MODELS = [
    "mbv2_bottleneck",
    "oldnet",
    "squeezenet",
    "mobilenetv2",
    "googlenet",
    "resnet18",
    "resnet50",
    "vgg19",
]
#: Cases ``make test`` runs on the big models (each under ~15 s); ``make test-models``
#: (IMCC_TEST_ALL_MODELS=1) runs every model in every case of CASES (about 10 minutes).
SMALL = {"mbv2_bottleneck", "oldnet", "squeezenet", "mobilenetv2"}
ALL_CASES = os.environ.get("IMCC_TEST_ALL_MODELS") == "1"


def _built_case(name: str, target: str, precision: str) -> bool:
    if ALL_CASES or precision == "fp32" or (target, precision) == ("cluster", "int8"):
        return True
    if (target, precision) == ("fat", "ternary"):
        return name in SMALL or name == "googlenet"
    return name in SMALL


BUILT_PARAMS = [
    pytest.param(
        target,
        precision,
        name,
        marks=()
        if _built_case(name, target, precision)
        else pytest.mark.skip(reason="make test-models (IMCC_TEST_ALL_MODELS=1) runs this case"),
        id=f"{target}-{precision}-{name}",
    )
    for target, precision in CASES
    for name in BUILT_MODELS
]


@pytest.mark.skipif(not BUILT, reason="set IMCC_TEST_BUILT_MODELS=1 (make test) for models/build")
@pytest.mark.parametrize("target,precision,name", BUILT_PARAMS)
def test_built_cnns_agree_at_every_level(target, precision, name):
    import onnx

    path = BUILD / f"{name}.onnx"
    graph = onnx.load(str(path), load_external_data=False).graph
    inp = graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    cal = {inp.name: rng.standard_normal((2, *shape[1:])).astype(np.float32)}
    quant, imc, binary, _ = run_levels(str(path), {inp.name: x}, precision, target, calibration=cal)
    assert_same_bits(quant, imc, "quant vs imc")
    assert_same_bits(imc, binary, "imc vs prog.bin")
    if precision == "fp32":
        want = ort.InferenceSession(str(path)).run(None, {inp.name: x})[0]
        assert np.abs(binary[0] - want).max() <= 1e-4 * np.abs(want).max()
