"""Option values are checked before work starts (NaN pass options, zero dimensions, unknown pass
names in instrument flags), and every runtime tool turns an unexpected exception into one
``internal error`` line with exit code 3 instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CNN = REPO / "models" / "digits" / "digits_cnn.onnx"


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--pass-pipeline", "ternarize{factor=nan}"], "expects a finite float, got 'nan'"),
        (["--pass-pipeline", "ternarize{damp=inf}"], "expects a finite float, got 'inf'"),
        (["--print-ir-before", "nosuch"], "no pass is called 'nosuch'"),
        (["--print-ir-after", "cse,nope"], "no pass is called 'nope'"),
        (["--input-shape", "input=0x1x8x8"], "a dimension of 0 leaves nothing to compile"),
    ],
)
def test_bad_option_values_are_usage_errors(tmp_path, flags, message):
    out = tmp_path / "o.mlir"
    cmd = [sys.executable, "-m", "imcc.compiler.tools.driver", str(CNN), "--emit", "quant"]
    proc = subprocess.run([*cmd, *flags, "-o", str(out)], capture_output=True, text=True)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr
    assert message in errors[0] and not out.exists() and "Traceback" not in proc.stderr


@pytest.mark.parametrize("tool", ["run", "objdump", "asm"])
def test_runtime_tools_report_a_bug_as_one_internal_error(tool, monkeypatch, capsys):
    import importlib

    module = importlib.import_module(f"imcc.runtime.tools.{tool}")

    def broken(argv=None):
        raise RuntimeError("something imcc did not expect")

    monkeypatch.setattr(module, "_main", broken)
    assert module.main([]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: something imcc did not expect" in err
    assert "Traceback" not in err
