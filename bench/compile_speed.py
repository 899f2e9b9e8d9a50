"""How fast, and in how much memory, `imcc model.onnx -o prog.bin` compiles a big CNN.

Each run is the real command line in a fresh process (``imcc MODEL -o prog.bin --precision P
--time-passes``), so the time includes Python's start-up and the imports, and the peak memory is
the process's own maximum resident set (``getrusage``). Calibration is imcc's seeded synthetic
set (a warning says so), as a user gets without ``--calibration``. The benchmark also compiles
the model under two PYTHONHASHSEED values and checks that prog.bin is byte-identical.

    python bench/compile_speed.py                           # ResNet-50 int8 (make models)
    python bench/compile_speed.py models/build/mobilenetv2.onnx --precision ternary --repeat 3
    python bench/compile_speed.py models/build/bert-large.onnx --precision ternary --repeat 2 \
        --within 120 --target bert-chip --input-shape hidden_states=1x128x1024 --input-shape attention_mask=1x128

Before timing, the package's bytecode is compiled (``compileall``), as ``pip install`` does:
machines that set PYTHONDONTWRITEBYTECODE would otherwise parse every module on each start.

The targets (issue: backend): ResNet-50 int8 under 10 s on the 2-core machine (goal 2 s), peak
memory under 3x the model file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS, GOAL_SECONDS, TARGET_MEMORY = 10.0, 2.0, 3.0

#: Runs the driver and prints its own peak RSS (KiB on Linux) last, on stderr.
_WRAPPER = (
    "import resource, sys\n"
    "from imcc.compiler.tools.driver import main\n"
    "code = main(sys.argv[1:])\n"
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def compile_once(model: Path, out: Path, precision: str, hashseed: str, extra=()) -> dict:
    """One compile in a fresh process: wall seconds, peak RSS bytes, pass times, prog.bin hash."""
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    argv = [str(model), "-o", str(out), "--precision", precision, "--time-passes", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *argv], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"error: imcc failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rss = int(re.search(r"peak_rss_kib (\d+)", proc.stderr).group(1)) * 1024
    return {
        "wall": wall,
        "cpu": cpu,
        "rss": rss,
        "passes": _pass_times(proc.stderr),
        "sha": hashlib.sha256(out.read_bytes()).hexdigest(),
        "size": out.stat().st_size,
    }


def _pass_times(stderr: str) -> dict[str, float]:
    """Seconds per pass from ``--time-passes`` (lines ``<seconds> <percent>% <pass name>``)."""
    times: dict[str, float] = {}
    for line in stderr.splitlines():
        m = re.match(r"^\s*([0-9.]+)\s+[0-9.]+%\s+(\S+)\s*$", line)
        if m:
            times[m.group(2)] = times.get(m.group(2), 0.0) + float(m.group(1))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(REPO / "models/build/resnet50.onnx"))
    parser.add_argument("--precision", default="int8", help="fp32, int8, ternary or auto")
    parser.add_argument("--repeat", type=int, default=3, help="timed compiles (median)")
    parser.add_argument("--target", help="imcc's --target (default: imcc's own)")
    parser.add_argument(
        "--within", type=float, default=TARGET_SECONDS, metavar="S",
        help=f"the time target in seconds (default {TARGET_SECONDS:g}, ResNet-50's)",
    )  # fmt: skip
    parser.add_argument(
        "--input-shape", action="append", default=[], metavar="NAME=DIMS", help="imcc's, repeatable"
    )
    args = parser.parse_args(argv)
    model = Path(args.model)
    if not model.exists():
        raise SystemExit(f"error: {model} is missing: run `make models` first")
    size = model.stat().st_size
    import imcc.compiler
    import imcc.runtime

    folders = [str(Path(m.__file__).parent) for m in (imcc, imcc.compiler, imcc.runtime)]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *folders], check=True, capture_output=True
    )
    extra = [*(["--target", args.target] if args.target else [])]
    for shape in args.input_shape:
        extra += ["--input-shape", shape]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(max(args.repeat, 2)):
            out = Path(tmp) / f"p{i}.bin"
            runs.append(compile_once(model, out, args.precision, str(i), extra))
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    rss = max(r["rss"] for r in runs)
    same = len({r["sha"] for r in runs}) == 1
    times = ", ".join(f"{r['wall']:.2f}" for r in runs)
    print(f"model   {model.name}: {size / 1e6:.1f} MB, --precision {args.precision}")
    print(
        f"prog.bin {runs[0]['size'] / 1e6:.1f} MB; byte-identical across {len(runs)} runs "
        f"with PYTHONHASHSEED 0..{len(runs) - 1}: {'yes' if same else 'NO'}"
    )
    print(
        f"time    median {wall:.2f} s wall, {cpu:.2f} s CPU over {len(runs)} runs "
        f"({times}); target < {args.within:g} s"
        + (f", goal {GOAL_SECONDS:g} s" if args.within == TARGET_SECONDS else "")
        + f": {'met' if wall < args.within else 'NOT met'} "
        "(on a loaded machine wall time counts waiting for a CPU; CPU time does not)"
    )
    print(
        f"memory  peak RSS {rss / 1e6:.0f} MB = {rss / size:.2f}x the model file; target "
        f"< {TARGET_MEMORY:g}x: {'met' if rss < TARGET_MEMORY * size else 'NOT met'}"
    )
    slow = sorted(runs[0]["passes"].items(), key=lambda kv: -kv[1])[:8]
    if slow:
        print("slowest passes (first run): " + ", ".join(f"{k} {v:.2f} s" for k, v in slow))
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine {os.cpu_count()} CPUs, load average {load}")
    cmd = shlex.join(
        ["python", "bench/compile_speed.py", *(argv if argv is not None else sys.argv[1:])]
    )
    print(f"reproduce: {cmd}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
