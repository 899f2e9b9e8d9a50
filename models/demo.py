"""The demo behind ``make demo``: compile a bundled digits CNN to a program binary and run it.

Every step is a real command-line call, printed before it runs, so the output doubles as a tutorial:

1. ``imcc --coverage``: which ops the model has and where each will execute;
2. ``imcc --precision fp32``: a software program (every layer on the cluster cores), run on the
   simulated chip and compared with onnxruntime;
3. ``imcc --precision ternary --calibration``: ternary weights on the analog arrays, int8
   activations, calibrated on held-apart images; the quant-level IR of the same compilation runs
   in the reference interpreter;
4. ``imcc-objdump``: a look inside prog.bin;
5. ``imcc-run --report --trace --plot``: the held-out test images on the simulated chip, with the
   cost report, a timeline and charts; its outputs equal the interpreter's bit for bit.

Usage: ``python models/demo.py --out out/demo`` from the repository root.
"""

from __future__ import annotations

import argparse
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


def step(title: str, tool: str, *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run one imcc tool, echoing the command as a user would type it (``quiet``: not its
    standard output, which the caller shows)."""
    shown = " ".join(shlex.quote(str(a)) for a in (tool, *args))
    print(f"\n== {title}\n$ {shown}" if title else f"$ {shown}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", TOOLS[tool], *map(str, args)], capture_output=True, text=True
    )
    if not quiet:
        sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    print(f"({time.perf_counter() - start:.2f} s, exit {proc.returncode})")
    if proc.returncode != 0:
        raise SystemExit(f"demo: step failed: {shown}")
    return proc


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, 1) == labels))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="folder for the demo's files")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    split = load_split()
    x = split.x_test
    np.save(out / "x_test.npy", x)
    np.savez(out / "calib.npz", input=split.x_calib)
    n = len(x)
    rel = lambda p: p.relative_to(ROOT) if p.is_relative_to(ROOT) else p  # noqa: E731
    model = rel(MODEL)
    shape = f"input={n}x1x8x8"
    inputs = f"input={out / 'x_test.npy'}"

    step("Which ops does the model have, and where will they run?", "imcc", model, "--coverage")

    fp32 = out / "digits_fp32.bin"
    step(
        "A software program: every layer on the 8 cluster cores in float32",
        "imcc", model, "--precision", "fp32", "--input-shape", shape, "-o", fp32,
    )  # fmt: skip
    step("Run it on the simulated chip", "imcc-run", fp32, "--input", inputs, "--output-dir",
         out / "run-fp32")  # fmt: skip

    import onnxruntime as ort

    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input": x})[0]
    logits_fp32 = np.load(out / "run-fp32" / "logits.npy")

    ternary = out / "digits_ternary.bin"
    step(
        "Ternary weights on the analog arrays (1 data-aware plane per layer), int8 activations, "
        "8-bit ADC, calibrated on held-apart images",
        "imcc", model, "--precision", "ternary", "--calibration", out / "calib.npz",
        "--input-shape", shape, "-o", ternary,
    )  # fmt: skip
    quant_ir = out / "digits_ternary.quant.mlir"
    step(
        "The same compilation stopped at the quant level: IR text the reference interpreter runs",
        "imcc", model, "--precision", "ternary", "--calibration", out / "calib.npz",
        "--input-shape", shape, "--emit", "quant", "-o", quant_ir,
    )  # fmt: skip
    step("", "imcc-run", quant_ir, "--input", inputs, "--output-dir", out / "run-quant")
    objdump = step("A look inside prog.bin", "imcc-objdump", ternary, quiet=True)
    print("\n".join(objdump.stdout.splitlines()[:40]) + "\n...")
    plots = out / "plots"
    trace = out / "digits_ternary.trace.json"
    step(
        "Run the held-out test images on the simulated chip, with the cost report",
        "imcc-run", ternary, "--input", inputs, "--output-dir", out / "run-ternary", "--report",
        "--trace", trace, "--plot", plots,
    )  # fmt: skip
    logits_chip = np.load(out / "run-ternary" / "logits.npy")
    logits_quant = np.load(out / "run-quant" / "logits.npy")
    same = bool(np.array_equal(logits_chip, logits_quant))
    diff = relative_difference(logits_fp32, reference)
    print("\n== Result")
    print(f"test images:                                   {n}")
    print(
        f"accuracy onnxruntime (fp32):                   {100 * accuracy(reference, split.y_test):.2f} %"
    )
    print(
        f"accuracy fp32 program on the chip:             {100 * accuracy(logits_fp32, split.y_test):.2f} %"
        f"  (max relative difference vs onnxruntime {diff:.1e})"
    )
    print(
        f"accuracy ternary, reference interpreter:       {100 * accuracy(logits_quant, split.y_test):.2f} %"
    )
    print(
        f"accuracy ternary program on the chip:          {100 * accuracy(logits_chip, split.y_test):.2f} %"
        f"  ({'bit for bit the interpreter' if same else 'DIFFERS from the interpreter'})"
    )
    print(f"\nTimeline for chrome://tracing or ui.perfetto.dev: {trace}")
    print(f"Charts (layers, units, array occupancy): {plots}/")
    return 0 if same and diff < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
