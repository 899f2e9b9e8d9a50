"""The precision passes on small seeded models: what they produce, what they keep exactly, and
that the interpreter runs the result."""

from __future__ import annotations

import numpy as np
import pytest
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir import print_ir
from imcc.compiler.precision.layers import float_layers, quant_layers
from imcc.compiler.precision.numerics.metrics import relative_error
from imcc.compiler.precision.report import build_report


def fp32_and_quant(build, run_pipeline, calib, kind, pipeline, n=24, **kw):
    """(module after ``pipeline``, fp32 outputs, quantized outputs) on held-out inputs."""
    ref = build(kind, 8, **kw)
    test = calib(kind, 8, seed=7)
    want = run_module(ref, test).as_list()[0]
    m = run_pipeline(build(kind, 8, **kw), pipeline, calib(kind, n))
    return m, want, run_module(m, test).as_list()[0]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_ternarize_replaces_every_crossbar_layer(build, run_pipeline, calib, kind):
    m, want, got = fp32_and_quant(build, run_pipeline, calib, kind, "ternarize")
    assert not float_layers(m)
    layers = quant_layers(m)
    assert len(layers) == (2 if kind == "mlp" else 3)
    for op in layers:
        cells = op.attributes["weights"].array
        assert cells.shape[0] == 1 and set(np.unique(cells)) <= {-1, 0, 1}
        assert not op.integer_input
    assert relative_error(want, got) < 0.5
    assert m.attributes["quant.model_error"].value == pytest.approx(
        relative_error_on_cal(m), rel=1e-6
    )


def relative_error_on_cal(m):
    return m.attributes["quant.relative_error"].value


@pytest.mark.parametrize("rule", ["data", "l2", "twn", "sparsity"])
def test_trained_ternary_weights_compile_exactly(build, run_pipeline, calib, rule):
    ref = build("mlp", 8, ternary_first=True)
    w = float_layers(ref)[0].weight.copy()
    b = float_layers(ref)[0].bias.copy()
    m = run_pipeline(
        build("mlp", 8, ternary_first=True), f"ternarize{{rule={rule}}}", calib("mlp", 24)
    )
    first = quant_layers(m)[0]
    np.testing.assert_array_equal(first.crossbar_weights().dense(), w)
    np.testing.assert_array_equal(first.bias(), b)
    assert first.get_attr("quant.weight_error") == 0.0


def test_rule_options(build, run_pipeline, calib):
    cal = calib("mlp", 24)
    sparse = run_pipeline(build("mlp", 8), "ternarize{rule=sparsity sparsity=0.75}", cal)
    for op in quant_layers(sparse):
        cells = op.attributes["weights"].array[0]
        keep = round(0.25 * cells.shape[1])
        assert ((cells != 0).sum(axis=1) <= keep).all()
    one = run_pipeline(build("mlp", 8), "ternarize{rule=l2}", cal)
    two = run_pipeline(build("mlp", 8), "ternarize{rule=l2 planes=2}", cal)
    for a, b in zip(quant_layers(one), quant_layers(two)):
        assert b.attributes["weights"].type.shape[0] == 2
        assert b.get_attr("quant.weight_error") < a.get_attr("quant.weight_error")
    ttq = run_pipeline(build("mlp", 8), "ternarize{asymmetric=true}", cal)
    assert all("scale_neg" in op.attributes for op in quant_layers(ttq))


def test_first_last_policy(build, run_pipeline, calib):
    cal = calib("cnn", 16)
    m = run_pipeline(build("cnn", 4), "ternarize{first-last=int8}", cal)
    # an 8-bit first and last layer: two planes of 4-bit cells each
    formats = [(op.get_attr("format"), len(op.get_attr("scale"))) for op in quant_layers(m)]
    assert formats == [("int4", 2), ("ternary", 1), ("int4", 2)]
    m = run_pipeline(build("cnn", 4), "ternarize{first-last=fp32}", cal)
    assert len(quant_layers(m)) == 1 and len(float_layers(m)) == 2


def test_data_aware_beats_textbook_rules(build, run_pipeline, calib):
    errors = {}
    for rule in ("data", "l2", "twn"):
        m = run_pipeline(build("cnn", 8), f"ternarize{{rule={rule}}}", calib("cnn", 32))
        errors[rule] = m.attributes["quant.model_error"].value
    assert errors["data"] < errors["l2"] and errors["data"] < errors["twn"]


def test_activations_static_unsigned_after_relu_and_dynamic_linear(build, run_pipeline, calib):
    m, want, got = fp32_and_quant(
        build, run_pipeline, calib, "cnn", "quantize-weights,quantize-activations"
    )
    types = [str(op.results[0].type.element_type) for op in m.walk() if op.name == "quant.quantize"]
    assert types == ["ui8", "ui8"]  # the calibration inputs are non-negative, then a ReLU
    assert sum(op.name == "quant.dynamic_quantize" for op in m.walk()) == 1  # the Gemm head
    for op in quant_layers(m):
        assert op.integer_input and op.get_attr("adc_bits") == 8
        assert op.get_attr("quant.act_error") < 0.05
    assert relative_error(want, got) < 0.05


def test_int8_weights_are_nearly_lossless(build, run_pipeline, calib):
    m, want, got = fp32_and_quant(build, run_pipeline, calib, "mlp", "quantize-weights")
    for op in quant_layers(m):  # 8-bit codes held as two 4-bit planes, w = 15·h + l
        cells = op.get_attr("weights")
        assert op.get_attr("format") == "int4" and cells.shape[0] == 2
        assert np.abs(cells).max() <= 7
        np.testing.assert_allclose(op.get_attr("scale")[0], 15 * op.get_attr("scale")[1])
    assert relative_error(want, got) < 0.02


def test_auto_spends_columns_only_as_the_budget_needs(build, run_pipeline, calib, capsys):
    cal = calib("cnn", 32)
    loose = run_pipeline(build("cnn", 8), "precision-auto{budget=10.0}", cal)
    assert {op.get_attr("quant.choice") for op in quant_layers(loose)} == {"t1"}
    mid = run_pipeline(build("cnn", 8), "precision-auto{budget=0.05}", cal)
    err = mid.attributes["quant.model_error"].value
    assert mid.attributes["quant.budget_met"].value and err <= 0.05
    assert build_report(mid)["total_columns"] > build_report(loose)["total_columns"]
    capsys.readouterr()
    strict = run_pipeline(build("cnn", 8), "precision-auto{budget=0.0}", cal)
    assert not strict.attributes["quant.budget_met"].value
    assert "could not meet the budget" in capsys.readouterr().err


def test_auto_holdout_measures_on_unseen_samples(build, run_pipeline, calib):
    m = run_pipeline(build("mlp", 8), "precision-auto{budget=0.05 holdout=0.5}", calib("mlp", 32))
    assert "held out" in m.attributes["quant.calibration"].value


def test_same_input_same_bytes(build, run_pipeline, calib):
    texts = [
        print_ir(run_pipeline(build("cnn", 4), "precision-auto{budget=0.05},cse", calib("cnn", 12)))
        for _ in range(2)
    ]
    assert texts[0] == texts[1]


def test_report_totals(build, run_pipeline, calib):
    m = run_pipeline(build("cnn", 4), "ternarize{planes=2},quantize-activations", calib("cnn", 12))
    report = build_report(m)
    assert report["total_columns"] == sum(ly["columns"] for ly in report["layers"])
    assert (
        report["weights"]["ternary_multiplane"]
        == report["weights"]["total"]
        == 6 * 18 + 3 * 6 + 4 * 108
    )
    assert [ly["choice"] for ly in report["layers"]] == ["t2", "t2", "t2"]
    assert report["model"]["metric"] == "relative"
