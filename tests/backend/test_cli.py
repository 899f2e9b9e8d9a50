"""imcc to prog.bin from the command line: determinism, targets and --set, refusals that leave
nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "digits" / "digits_mbv2.onnx"
CNN = REPO / "models" / "digits" / "digits_cnn.onnx"


def _run(tool: str, *argv, env=None):
    module = {"imcc": "imcc.compiler.tools.driver", "imcc-run": "imcc.tools.run"}[tool]
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_prog_bin_and_ir_are_byte_identical_across_runs_and_hash_seeds(tmp_path):
    outputs = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out, imc = tmp_path / f"p{seed}.bin", tmp_path / f"p{seed}.mlir"
        for argv in (("-o", out), ("--emit", "imc", "-o", imc)):
            proc = _run("imcc", MODEL, "--precision", "ternary", *argv, env=env)
            assert proc.returncode == 0, proc.stderr
        outputs.append((out.read_bytes(), imc.read_bytes()))
    assert outputs[0] == outputs[1]


def test_set_overrides_reach_the_program_and_its_runner(tmp_path):
    out = tmp_path / "p.bin"
    proc = _run("imcc", CNN, "--precision", "ternary", "--set", "arrays.ima.count=2", "-o", out)
    assert proc.returncode == 0, proc.stderr
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    run = _run("imcc-run", out, "--input", f"input={tmp_path / 'x.npy'}", "--report")
    assert run.returncode == 0, run.stderr
    assert "used 2 of 2" in run.stdout


@pytest.mark.parametrize(
    "argv,code,message",
    [
        (["--set", "arrays.ima.count"], 2, "--set 'arrays.ima.count' must look like KEY=VALUE"),
        (["--set", "arrays.ima.count=-4"], 1, "arrays[0].count: -4 count is impossible"),
        (["--target", "nosuch"], 2, "unknown target 'nosuch'"),
        (["--set", "memory.L2.size=4096 B"], 1, "needs more memory than the target has"),
        (["--set", "memory.L2.size=4096 B", "--emit", "imc"], 1, "needs more memory"),
    ],
)
def test_refusals_are_one_error_line_and_write_nothing(tmp_path, argv, code, message):
    out = tmp_path / ("p.mlir" if "imc" in argv else "p.bin")
    proc = _run("imcc", CNN, "--precision", "fp32", *argv, "-o", out)
    assert proc.returncode == code, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_a_layer_that_cannot_be_tiled_is_refused(tmp_path):
    out = tmp_path / "p.bin"
    proc = _run("imcc", CNN, "--precision", "int8", "--set", "memory.L1.size=64 B", "-o", out)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "cannot be tiled: one output row needs" in errors[0]
    assert not out.exists() and "Traceback" not in proc.stderr


def test_a_target_file_with_an_impossible_value_is_refused(tmp_path):
    text = (REPO / "runtime" / "targets" / "cluster.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace('rows = { value = 256, unit = "count"', 'rows = { value = 0, unit = "count"')
    )
    out = tmp_path / "p.bin"
    proc = _run("imcc", CNN, "--target", bad, "-o", out)
    assert proc.returncode == 2 and "bad.toml" in proc.stderr and "impossible" in proc.stderr
    assert not out.exists() and "Traceback" not in proc.stderr


def test_cost_overrides_given_at_compile_time_also_price_the_run():
    """A cost-only --set keeps the target's fingerprint; the binary records it and runs with it,
    exactly as if it had been given to the run."""
    import imcc

    x = {"input": np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)}
    quiet = dict(precision="int8", input_shapes={"input": (4, 1, 8, 8)}, notes=lambda m: None)
    cheap = {"cores.kernels.requant": "0.5"}
    plain = imcc.compile(str(MODEL), **quiet)
    priced = imcc.compile(str(MODEL), target_overrides=cheap, **quiet)
    at_compile = priced.run(x).report.to_dict()["total"]["cycles"]
    at_run = plain.run(x, overrides=cheap).report.to_dict()["total"]["cycles"]
    default = plain.run(x).report.to_dict()["total"]["cycles"]
    assert at_compile == at_run < default
