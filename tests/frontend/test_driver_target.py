"""``--target`` (imcc) and ``target=`` (imcc.compile): given once, recorded on the module as
``imcc.target``, read by every pass that needs the chip (here: the precision passes' arrays)."""

from __future__ import annotations

import re
from pathlib import Path

from imcc.compiler.tools.driver import main
from imcc.runtime.targets.loader import PRESET_DIR

import imcc

ROOT = Path(__file__).resolve().parents[2]
DIGITS_CNN = str(ROOT / "models" / "digits" / "digits_cnn.onnx")


def _quant(capsys, tmp_path, *flags) -> tuple[int, str, str]:
    out = tmp_path / "q.mlir"
    code = main([DIGITS_CNN, "--emit", "quant", *flags, "-o", str(out)])
    _, err = capsys.readouterr()
    return code, out.read_text() if code == 0 else "", err


def _rows(text: str) -> list[int]:
    return [int(r) for r in re.findall(r"array_rows = (\d+)", text)]


def test_a_preset_is_recorded_and_used(tmp_path, capsys):
    code, default, err = _quant(capsys, tmp_path)
    assert code == 0, err
    assert "imcc.target" not in default and max(_rows(default)) == 256  # cluster
    code, text, err = _quant(capsys, tmp_path, "--target", "bert-chip")
    assert code == 0, err
    assert 'imcc.target = "bert-chip"' in text and max(_rows(text)) == 1024
    code, text, err = _quant(capsys, tmp_path, "--target", "cluster")
    assert code == 0 and 'imcc.target = "cluster"' in text
    assert text.replace('imcc.target = "cluster", ', "") == default


def test_a_target_file_is_recorded_by_path_and_used(tmp_path, capsys):
    toml = (PRESET_DIR / "cluster.toml").read_text()
    small = tmp_path / "small.toml"
    small.write_text(toml.replace("rows = { value = 256,", "rows = { value = 64,", 1))
    code, text, err = _quant(capsys, tmp_path, "--target", str(small))
    assert code == 0, err
    assert f'imcc.target = "{small}"' in text and max(_rows(text)) == 64


def test_an_unknown_target_is_one_error_line_and_exit_code_2(tmp_path, capsys):
    code, _, err = _quant(capsys, tmp_path, "--target", "nope")
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and errors == [
        "imcc: error: --target: unknown target 'nope' (presets: bert-chip, cluster, fat; or give "
        "a .toml file)"
    ]
    assert "Traceback" not in err
    (tmp_path / "bad.toml").write_text("not [ toml\n")
    code, _, err = _quant(capsys, tmp_path, "--target", str(tmp_path / "bad.toml"))
    assert code == 2 and "invalid TOML" in err and len(re.findall("error:", err)) == 1


def test_the_python_api_records_the_target(capsys):
    m = imcc.compile(DIGITS_CNN, emit="quant", target="bert-chip")
    capsys.readouterr()
    assert m.get_attr("imcc.target") == "bert-chip"
    assert max(op.get_attr("array_rows") for op in m.walk() if op.get_attr("array_rows")) == 1024
