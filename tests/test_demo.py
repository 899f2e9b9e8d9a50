"""`make demo` runs models/demo.py: it must succeed end to end and match onnxruntime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_and_matches_onnxruntime(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "models" / "demo.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "accuracy imcc (interpreter):      99.44 %" in proc.stdout
    assert "accuracy ternary weights, int8 activations, 8-bit ADC:" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert (tmp_path / "sim" / "y.npy").exists()
    assert (tmp_path / "convnet.trace.json").exists()
