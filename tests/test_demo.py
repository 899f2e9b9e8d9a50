"""`make demo` runs models/demo.py: it must succeed end to end, match onnxruntime in fp32 and
run the ternary program bit for bit like the interpreter."""

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
    out = proc.stdout
    assert "accuracy onnxruntime (fp32):                   99.44 %" in out
    assert "accuracy fp32 program on the chip:             99.44 %" in out
    assert "(bit for bit the interpreter)" in out
    chip = float(out.split("accuracy ternary program on the chip:")[1].split("%")[0])
    assert chip >= 97.0
    assert "Traceback" not in out + proc.stderr
    assert (tmp_path / "run-ternary" / "logits.npy").exists()
    assert (tmp_path / "digits_ternary.trace.json").exists()
    assert (tmp_path / "plots" / "layers.png").exists()
