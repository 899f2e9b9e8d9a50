"""The demo behind ``make demo``: compile a bundled digits CNN with the imcc tools and check the result.

Every step is a real command-line call, printed before it runs, so the output doubles as a tutorial:

1. ``imcc --coverage``: which ops the model has and where each will execute;
2. ``imcc --emit onnx``: import and canonicalize (BatchNorm folded, linear layers fused) to IR text;
3. ``imcc-run``: execute that IR in the reference interpreter on the held-out digits test images;
4. compare with onnxruntime on the same images (max relative difference, accuracy).

Usage: ``python models/demo.py --out out/demo`` from the repository root.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.cnn.digits_data import load_split  # noqa: E402

MODEL = ROOT / "models" / "digits" / "digits_cnn.onnx"
TOOLS = {
    "imcc": "imcc.compiler.tools.driver",
    "imcc-run": "imcc.tools.run",
    "imcc-opt": "imcc.compiler.tools.opt",
    "imcc-as": "imcc.runtime.tools.asm",
    "imcc-objdump": "imcc.runtime.tools.objdump",
}
CONVNET = ROOT / "examples" / "asm" / "convnet"


def step(title: str, tool: str, *args: str) -> subprocess.CompletedProcess:
    """Run one imcc tool, echoing the command as a user would type it."""
    shown = " ".join(shlex.quote(str(a)) for a in (tool, *args))
    print(f"\n== {title}\n$ {shown}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", TOOLS[tool], *map(str, args)], capture_output=True, text=True
    )
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    print(f"({time.perf_counter() - start:.2f} s, exit {proc.returncode})")
    if proc.returncode != 0:
        raise SystemExit(f"demo: step failed: {shown}")
    return proc


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="folder for the demo's files")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    split = load_split()
    x = split.x_test
    np.save(out / "x_test.npy", x)
    n = len(x)
    rel = lambda p: p.relative_to(ROOT) if p.is_relative_to(ROOT) else p  # noqa: E731
    model = rel(MODEL)

    step("Which ops does the model have, and where will they run?", "imcc", model, "--coverage")
    mlir = out / "digits_cnn.mlir"
    step(
        "Import and canonicalize to the onnx level (IR text)",
        "imcc", model, "--emit", "onnx", "--input-shape", f"input={n}x1x8x8", "-o", mlir,
        "--time-passes",
    )  # fmt: skip
    ops = re.findall(r'= "([a-z]+\.[A-Za-z_]+)"\(', mlir.read_text())
    print("ops in the compiled IR:", ", ".join(f"{o} x{ops.count(o)}" for o in sorted(set(ops))))
    run_dir = out / "run"
    run_dir.mkdir(exist_ok=True)
    step(
        "Run the IR in the reference interpreter on the held-out test images",
        "imcc-run", mlir, "--input", f"input={out / 'x_test.npy'}", "--output-dir", run_dir,
    )  # fmt: skip

    import onnxruntime as ort

    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input": x})[0]
    logits = np.load(run_dir / "logits.npy")
    acc_imcc = float(np.mean(np.argmax(logits, 1) == split.y_test))
    acc_ort = float(np.mean(np.argmax(reference, 1) == split.y_test))
    print("\n== Result")
    print(f"test images:                      {n}")
    print(f"max relative difference vs ORT:   {relative_difference(logits, reference):.2e}")
    print(f"accuracy imcc (interpreter):      {100 * acc_imcc:.2f} %")
    print(f"accuracy onnxruntime:             {100 * acc_ort:.2f} %")
    np.savez(out / "calib.npz", input=split.x_calib)
    qmlir = out / "digits_cnn.ternary.mlir"
    step(
        "Ternarize every weight layer (1 plane, data-aware) and quantize activations to int8, "
        "calibrated on held-apart images",
        "imcc", model, "--emit", "quant", "--precision", "ternary", "--calibration",
        out / "calib.npz", "--input-shape", f"input={n}x1x8x8", "-o", qmlir,
    )  # fmt: skip
    qrun = out / "run-ternary"
    qrun.mkdir(exist_ok=True)
    step("Run the ternary IR on the test images", "imcc-run", qmlir, "--input",
         f"input={out / 'x_test.npy'}", "--output-dir", qrun)  # fmt: skip
    acc_ternary = float(np.mean(np.argmax(np.load(qrun / "logits.npy"), 1) == split.y_test))
    print(f"\naccuracy ternary weights, int8 activations, 8-bit ADC: {100 * acc_ternary:.2f} %"
          f" (fp32 {100 * acc_ort:.2f} %)")  # fmt: skip
    print(
        "\nNot yet implemented: lowering the compiled graph to the IMC ISA (prog.bin). The "
        "simulated chip runs hand-written programs meanwhile:"
    )
    program = out / "convnet.bin"
    step("Assemble a hand-written conv net for the 'cluster' target", "imcc-as",
         rel(CONVNET / "convnet.s"), "-o", program)  # fmt: skip
    step("Inspect the binary", "imcc-objdump", program)
    sim_dir = out / "sim"
    sim_dir.mkdir(exist_ok=True)
    step(
        "Run it on the simulated chip with the cost report (latency, energy per layer and unit)",
        "imcc-run", program, "--input", f"x={rel(CONVNET / 'x.npy')}", "--output-dir", sim_dir,
        "--report", "--trace", out / "convnet.trace.json",
    )  # fmt: skip
    print(f"\nTimeline for chrome://tracing or ui.perfetto.dev: {out / 'convnet.trace.json'}")
    return 0 if relative_difference(logits, reference) < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
