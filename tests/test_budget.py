"""The size budget (imcc.runtime.budget): a size declared in a small file — a constant's tensor
type, a target's memory or array geometry — is refused before anything allocates it, as one error
naming what, how large, and the limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CNN = REPO / "models" / "digits" / "digits_cnn.onnx"
ENV = {**os.environ, "IMCC_MAX_BYTES": "1000000000"}
BIG = """"func.func"() ({
^bb0(%x: tensor<2xf32>):
  %c = "onnx.Constant"() {value = dense<1.0> : tensor<100000x100000xf32>} : () -> tensor<100000x100000xf32>
  "func.return"(%x) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "main"} : () -> ()
"""


def _tool(module, *args):
    cmd = [sys.executable, "-m", module, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc, errors


@pytest.mark.parametrize("tool", ["imcc.compiler.tools.opt", "imcc.tools.run"])
def test_a_constant_larger_than_the_budget_is_refused_where_it_is_declared(tmp_path, tool):
    path = tmp_path / "big.mlir"
    path.write_text(BIG)
    proc, errors = _tool(tool, path)
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"{path}:3:")
    assert "40,000,000,000 bytes, more than the limit of 1,000,000,000 bytes" in errors[0]


@pytest.mark.parametrize("override", ["memory.L2.size=1e15 B", "arrays.ima.rows=10000000"])
def test_a_target_larger_than_the_budget_is_refused_before_allocating(tmp_path, override):
    out = tmp_path / "p.bin"
    proc, errors = _tool(
        "imcc.compiler.tools.driver", CNN, "--precision", "fp32", "--set", override, "-o", out
    )
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "more than the limit of 1,000,000,000 bytes" in errors[0] and not out.exists()
    program = tmp_path / "ok.bin"
    proc, _ = _tool("imcc.compiler.tools.driver", CNN, "--precision", "fp32", "-o", program)
    assert proc.returncode == 0, proc.stderr
    proc, errors = _tool("imcc.tools.run", program, "--set", override)
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "more than the limit of 1,000,000,000 bytes" in errors[0]
