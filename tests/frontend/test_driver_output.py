"""imcc refuses to write IR text under a program-binary name while the backend is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "models" / "digits" / "digits_cnn.onnx"


def test_bin_output_without_backend_is_refused(tmp_path):
    out = tmp_path / "prog.bin"
    proc = subprocess.run(
        [sys.executable, "-m", "imcc.compiler.tools.driver", str(MODEL), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "needs --emit=bin, which is not implemented yet" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
