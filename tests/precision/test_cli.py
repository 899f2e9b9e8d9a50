"""--precision, --accuracy-budget, --calibration, --precision-report through the imcc driver, and
the same through imcc.compile; calibration data errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from imcc.compiler.precision.calibration import CalibrationError, attach_calibration
from imcc.compiler.precision.layers import quant_layers
from imcc.compiler.tools.driver import main

import imcc


@pytest.fixture
def model_file(tmp_path, onnx_bytes):
    """The small CNN of conftest as a file, with a calibration .npz next to it."""
    path = tmp_path / "cnn.onnx"
    path.write_bytes(onnx_bytes("cnn"))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "cal.npz", x=rng.normal(size=(12, 2, 6, 6)).astype(np.float32))
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_emit_quant_with_calibration_and_json_report(model_file, tmp_path, capsys):
    out_ir, report = tmp_path / "q.mlir", tmp_path / "r.json"
    code, _, err = run(
        [model_file, "--input-shape", "x=4x2x6x6", "--precision", "ternary", "--calibration",
         tmp_path / "cal.npz", "--emit", "quant", "-o", out_ir, "--precision-report", report],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "precision report" in err and "crossbar columns:" in err
    assert "synthetic" not in err
    data = json.loads(report.read_text())
    assert [ly["choice"] for ly in data["layers"]] == ["t1", "t1", "t1"]
    assert data["model"]["calibration"].endswith("cal.npz")
    x = np.random.default_rng(3).normal(size=(4, 2, 6, 6)).astype(np.float32)
    y = imcc.run(str(out_ir), {"x": x})["y"]
    assert y.shape == (4, 4) and np.isfinite(y).all()


def test_budget_alone_selects_auto_and_fp32_quantizes_nothing(model_file, tmp_path, capsys):
    cal = tmp_path / "cal.npz"
    code, out, err = run([model_file, "--input-shape", "x=4x2x6x6", "--accuracy-budget", "0.05",
                          "--calibration", cal, "--emit", "quant"], capsys)  # fmt: skip
    assert code == 0, err
    assert '"quant.linear"' in out and "quant.budget = 0.05" in out
    code, out, err = run(
        [model_file, "--input-shape", "x=4x2x6x6", "--precision", "fp32", "--emit", "quant"], capsys
    )
    assert code == 0 and '"quant.' not in out and "onnx.Conv" in out


def test_bad_flags_and_calibration_files(model_file, tmp_path, capsys):
    code, _, err = run([model_file, "--precision", "ternary", "--accuracy-budget", "0.1"], capsys)
    assert code == 2 and "accuracy budget applies to --precision auto only" in err
    code, _, err = run(
        [model_file, "--precision", "int8", "--calibration", tmp_path / "no.npz"], capsys
    )
    assert code == 1 and "no.npz: no such calibration file" in err and "Traceback" not in err
    np.savez(tmp_path / "wrong.npz", image=np.zeros((3, 2, 6, 6), np.float32))
    code, _, err = run(
        [model_file, "--precision", "int8", "--calibration", tmp_path / "wrong.npz"], capsys
    )
    assert code == 1 and "missing ['x']; unknown ['image']" in err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    code, _, err = run(
        [model_file, "--precision", "int8", "--calibration", tmp_path / "junk.npz"], capsys
    )
    assert code == 1 and "not a readable array file" in err


def test_synthetic_calibration_is_announced(model_file, capsys):
    code, _, err = run([model_file, "--precision", "int8", "--emit", "quant"], capsys)
    assert code == 0 and "warning: no calibration data given" in err


def test_python_api_with_dict_calibration(model_file, capsys):
    rng = np.random.default_rng(1)
    cal = {"x": rng.normal(size=(8, 2, 6, 6)).astype(np.float32)}
    m = imcc.compile(str(model_file), emit="quant", input_shapes={"x": (4, 2, 6, 6)},
                     precision="auto", accuracy_budget=0.05, calibration=cal)  # fmt: skip
    assert len(quant_layers(m)) == 3 and m.attributes["quant.budget_met"].value
    assert m.attributes["quant.calibration"].value == "<dict>"


def test_calibration_checks_shapes_and_labels(build):
    m = build("mlp", 4)
    with pytest.raises(CalibrationError, match=r"input 'x' has shape \[5, 15\]"):
        attach_calibration(m, {"x": np.zeros((5, 15), np.float32)})
    with pytest.raises(CalibrationError, match="input 'x' is float64"):
        attach_calibration(m, {"x": np.zeros((5, 16))})
    with pytest.raises(CalibrationError, match="disagree on the number of samples"):
        attach_calibration(m, {"x": np.zeros((5, 16), np.float32), "labels": np.zeros(4, np.int64)})
    cal = attach_calibration(m, {"x": np.zeros((5, 16), np.float32), "labels": np.arange(5)})
    assert cal.samples == 5 and cal.labels is not None
