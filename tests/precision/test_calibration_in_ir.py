"""The calibration set travels on the module (``imcc.calibration``): it prints and parses with the
IR, so ``imcc-opt`` on a dumped quant-level file reproduces the original run bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir import parse_module, print_ir
from imcc.compiler.precision import calibration
from imcc.compiler.precision.pipeline import precision_steps
from imcc.compiler.tools import driver, opt

ROOT = Path(__file__).resolve().parents[2]
DIGITS_CNN = ROOT / "models" / "digits" / "digits_cnn.onnx"


def test_the_calibration_attribute_round_trips_through_the_text_form(build):
    module = build("mlp", 4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 16)).astype(np.float32)
    calibration.attach_calibration(module, {"x": x, "labels": np.arange(6)})
    cal = calibration.attached_calibration(parse_module(print_ir(module)))
    assert cal.source == "<dict>" and not cal.synthetic
    assert cal.inputs["x"].tobytes() == x.tobytes() and cal.labels.tolist() == list(range(6))
    x[0, 0] = 42.0  # the caller's arrays stay theirs (and writable)
    assert calibration.attached_calibration(module).inputs["x"][0, 0] != 42.0


def test_a_synthetic_set_is_recorded_by_name_and_regenerated(build, capsys):
    module = build("mlp", 4)
    first = calibration.calibration_for(module)
    assert "no calibration data given" in capsys.readouterr().err
    text = print_ir(module)
    assert 'imcc.calibration = {source = "<synthetic>", synthetic = 32}' in text
    again = calibration.calibration_for(parse_module(text))
    assert "warning" not in capsys.readouterr().err
    assert again.synthetic and again.inputs["x"].tobytes() == first.inputs["x"].tobytes()


@pytest.mark.parametrize("precision", ["ternary", "auto"])
def test_imcc_opt_on_the_dump_before_the_first_precision_pass_reproduces_the_run(
    precision, tmp_path, capsys
):
    rng = np.random.default_rng(0)
    cal = tmp_path / "cal.npz"
    np.savez(
        cal, input=rng.random((20, 1, 8, 8)).astype(np.float32), labels=rng.integers(0, 10, 20)
    )
    dumps, out = tmp_path / "dumps", tmp_path / "q.mlir"
    argv = [str(DIGITS_CNN), "--emit", "quant", "--precision", precision, "--calibration", str(cal)]
    assert driver.main([*argv, "--dump-ir-dir", str(dumps), "-o", str(out)]) == 0
    steps = precision_steps(precision)
    files = sorted(dumps.iterdir())
    first = next(
        i for i, f in enumerate(files) if f.stem.split("-", 1)[1] == steps[0].split("{")[0]
    )
    before = files[first - 1]
    assert calibration.CALIBRATION_ATTR in before.read_text()
    again = tmp_path / "again.mlir"
    assert opt.main([str(before), "-p", ",".join(steps), "-o", str(again)]) == 0
    capsys.readouterr()
    assert again.read_bytes() == out.read_bytes()
    assert (
        calibration.CALIBRATION_ATTR not in out.read_text()
    )  # strip-calibration: the program holds no data
    x = rng.random((1, 1, 8, 8)).astype(np.float32)
    y1 = run_module(parse_module(out.read_text()), [x]).as_list()
    y2 = run_module(parse_module(again.read_text()), [x]).as_list()
    assert [a.tobytes() for a in y1] == [b.tobytes() for b in y2]
