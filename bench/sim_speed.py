"""How fast the simulator runs real inference programs, against onnxruntime fp32 on the same machine.

Three hand-built programs (`sim_models`): a MobileNetV2 bottleneck block on `cluster`, a
784-512-512-10 MLP (batch 64) on `cluster` and a BERT FFN block (seq 128, 768-3072-768) on
`bert-chip`, each with its fp32 ONNX twin. Like a deployment, the simulator loads a program once
(`Session`: validation, constants, weight programming) and then runs inferences on it; like
onnxruntime's `InferenceSession.run`, the primary number is one inference. For each workload it
prints

- onnxruntime's time with 1 intra-op thread and with its default thread count (measured apart:
  its spinning thread pool would slow what runs next),
- the simulator's time per inference (`Session.run`) in modes ideal and adc, the one-shot time
  (`run_program`: validation, weight programming and the inference, what `imcc-run` does) and
  the one-time preparation (`Session(...)`, weight programming included), with the ratios
  simulator / onnxruntime (the target is ≤ 2 for `Session.run`),
- the cost model's latency and energy of one inference (weight programming reported apart),
- the max abs difference between the simulator's dequantized output and the int-exact numpy
  reference (0 expected in both modes, for session and one-shot runs) and the relative
  difference to onnxruntime's fp32 output (activation quantization and the ADC; informational).

Times are medians over ``--repeat`` rounds after warm-up; every round runs each inference once
(onnxruntime's and the simulator's), interleaved in rotating order, so load from other processes
hits all of them alike; one-shot runs and preparation are timed apart, each on its own. Wall
and process CPU time are both reported: on a busy machine wall time includes waiting for a CPU,
CPU time does not. numpy's BLAS runs on one thread unless ``--blas-threads`` says otherwise.

    python bench/sim_speed.py                      # all three workloads, well under 2 minutes
    python bench/sim_speed.py --only mlp --repeat 30
    python bench/sim_speed.py --blas-threads 2     # numpy's GEMMs on 2 threads (default 1)
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _blas_threads_from_argv(argv: list[str]) -> str:
    """``--blas-threads N`` (default 1), read before numpy loads: BLAS reads it only then."""
    for i, arg in enumerate(argv):
        if arg == "--blas-threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--blas-threads="):
            return arg.split("=", 1)[1]
    return "1"


if __name__ == "__main__":
    for _var in BLAS_THREAD_VARS:
        os.environ[_var] = _blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import sim_models  # noqa: E402
from imcc.runtime.sim import run_program  # noqa: E402
from imcc.runtime.sim.session import Session  # noqa: E402

MODES = ("ideal", "adc")
TARGET_RATIO = 2.0


def _session(model, threads: int | None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _timers(wl, sessions: dict) -> tuple[dict[str, callable], dict[str, callable]]:
    """The measured callables of one workload that run in one thread, by column name: the
    inferences (interleaved with each other), then the one-time work (each measured on its own,
    so that its allocations and weight decoding do not evict the inferences' data between
    rounds, and building a session's onnxruntime kernels does not slow the one-shot runs)."""
    one = _session(wl.onnx_model, 1)
    feed = wl.ort_inputs
    inference = {"ort_1t": lambda: one.run(None, feed)}
    for mode in MODES:
        inference[f"sim_{mode}"] = lambda run=sessions[mode].run: run(wl.inputs)
    once = {
        "oneshot": lambda: run_program(wl.program, wl.inputs, mode="adc"),
        "prepare": lambda: Session(wl.program, mode="adc"),
    }
    return inference, once


def measure_default_threads(wl, repeat: int, warmup: int) -> float:
    """Median wall time of onnxruntime with its default threads, measured on its own.

    Its thread pool keeps spinning after each run, which would slow (and add CPU time to)
    whatever runs next in this process, so it is kept out of the interleaved rounds.
    """
    run = _session(wl.onnx_model, None).run
    return measure({"ort_def": lambda: run(None, wl.ort_inputs)}, repeat, warmup)["ort_def"]


def measure(timers: dict, repeat: int, warmup: int) -> dict[str, float]:
    """Median wall time (``name``) and median process CPU time (``name.cpu``) in seconds of each
    callable over ``repeat`` interleaved rounds (in rotating order) after ``warmup`` rounds.

    On a shared machine wall time also counts waiting for a CPU; CPU time does not, so its
    ratios are the reproducible ones (with one BLAS / onnxruntime thread they measure the same).
    """
    for _ in range(warmup):
        for fn in timers.values():
            fn()
    wall = {name: [] for name in timers}
    cpu = {name: [] for name in timers}
    names = list(timers)
    for r in range(repeat):
        # rotate the order each round: what ran just before (caches, freed memory) varies alike
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = timers[name]
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    out = {name: statistics.median(ts) for name, ts in wall.items()}
    out.update({f"{name}.cpu": statistics.median(ts) for name, ts in cpu.items()})
    return out


def inference_cost(result) -> dict[str, float]:
    """Latency (s) and energy (J) after the barrier that ends weight programming, and before it."""
    target, records = result.target, result.records
    barrier = next(r.slot.start for r in records if r.mnemonic == "barrier")
    end = max(r.slot.end for r in records)
    static_w = target.chip.static_power * 1e-3
    energy = [0.0, 0.0]  # programming, inference
    for r in records:
        energy[r.slot.start >= barrier and r.mnemonic != "xb.prog"] += sum(
            r.energy(target).values()
        )
    prog_s, inf_s = target.seconds(barrier), target.seconds(end - barrier)
    return {
        "latency_s": inf_s,
        "energy_j": energy[1] * 1e-12 + static_w * inf_s,
        "prog_s": prog_s,
        "prog_energy_j": energy[0] * 1e-12 + static_w * prog_s,
    }


def check(wl) -> tuple[dict[str, float], dict]:
    """Max abs difference to the int reference per mode (over session and one-shot runs),
    relative difference to onnxruntime, the cost of one inference; and the warmed-up sessions.

    A session whose report differs from the one-shot run's counts as a difference (NaN).
    """
    y_ort = wl.ort_output(_session(wl.onnx_model, 1).run(None, wl.ort_inputs)[0])
    out, sessions = {}, {}
    for mode in MODES:
        session = sessions[mode] = Session(wl.program, mode=mode)
        first = session.run(wl.inputs)  # the first run also computes costs and the schedule
        again = session.run(wl.inputs)
        oneshot = run_program(wl.program, wl.inputs, mode=mode)
        want = wl.reference(mode)
        runs = (first, again, oneshot)
        out[f"diff_{mode}"] = max(
            float(np.abs(wl.dequantize(r.outputs) - want).max()) for r in runs
        )
        if again.report.to_dict() != oneshot.report.to_dict():
            out[f"diff_{mode}"] = float("nan")
        y = wl.dequantize(first.outputs)
        out[f"vs_ort_{mode}"] = float(np.abs(y - y_ort).max() / np.abs(y_ort).max())
        if mode == "adc":
            out.update(inference_cost(first))
            out["prefix"], out["restore"] = session.prefix_len, session.restore_bytes
    return out, sessions


def bench_one(name: str, repeat: int, warmup: int) -> dict:
    """Build, check and time one workload."""
    wl = sim_models.WORKLOADS[name]()
    row = {"name": wl.name, "macs": wl.macs, "instrs": len(wl.program.instrs)}
    checks, sessions = check(wl)
    row.update(checks)
    inference, once = _timers(wl, sessions)
    row.update(measure(inference, repeat, warmup))
    for name, fn in once.items():
        row.update(measure({name: fn}, max(1, repeat // 4), min(warmup, 1)))
    row["ort_def"] = measure_default_threads(wl, repeat, warmup)
    return row


def _ms(s: float) -> str:
    return f"{s * 1e3:.2f}"


def format_tables(rows: list[dict]) -> str:
    """The speed table, the ratio table and the model/accuracy table."""
    lines = [
        "speed: median wall ms (and CPU ms) over the rounds",
        f"{'workload':<34} {'ORT 1t':>13} {'ORT def':>7} {'session ideal':>15} "
        f"{'session adc':>15} {'one-shot adc':>15} {'prepare':>15}",
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<34} {_pair(r, 'ort_1t'):>13} {_ms(r['ort_def']):>7} "
            f"{_pair(r, 'sim_ideal'):>15} {_pair(r, 'sim_adc'):>15} {_pair(r, 'oneshot'):>15} "
            f"{_pair(r, 'prepare'):>15}"
        )
    lines.append(
        "(session: Session.run, one inference of a loaded program; one-shot: run_program, "
        "validation + weight programming + inference; prepare: Session(...), once per program, "
        "both timed apart from the inferences, over a quarter of the rounds; ORT def: "
        "onnxruntime's default threads)"
    )
    lines += [
        "",
        "ratios: simulator / onnxruntime (the target: session adc / ORT 1 thread <= 2)",
        f"{'workload':<34} {'adc/1t':>7} {'CPU adc/1t':>10} {'ideal/1t':>8} {'adc/def':>7} "
        f"{'one-shot/1t':>11} {'one-shot/def':>12} {'prepare/1t':>10} {'<=2':>4}",
    ]
    for r in rows:
        wall_ratio = r["sim_adc"] / r["ort_1t"]
        cpu_ratio = r["sim_adc.cpu"] / r["ort_1t.cpu"]
        ok = "yes" if max(wall_ratio, cpu_ratio) <= TARGET_RATIO else "no"
        lines.append(
            f"{r['name']:<34} {wall_ratio:>7.2f} {cpu_ratio:>10.2f} "
            f"{r['sim_ideal'] / r['ort_1t']:>8.2f} {r['sim_adc'] / r['ort_def']:>7.2f} "
            f"{r['oneshot'] / r['ort_1t']:>11.2f} {r['oneshot'] / r['ort_def']:>12.2f} "
            f"{r['prepare'] / r['ort_1t']:>10.2f} {ok:>4}"
        )
    lines.append(
        "(<=2: the session's adc ratios to 1 thread, wall and CPU, both within the target)"
    )
    lines += [
        "",
        "program and cost model (adc mode; inference = after the weight-programming barrier)",
        f"{'workload':<34} {'MACs':>11} {'instrs':>6} {'prefix':>6} {'restore':>8} "
        f"{'latency':>10} {'energy':>10} {'weights':>9} {'max|d| ideal':>12} {'max|d| adc':>10} "
        f"{'vs ORT':>7}",
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<34} {r['macs']:>11,} {r['instrs']:>6} {r['prefix']:>6} "
            f"{r['restore']:>7}B {r['latency_s'] * 1e6:>7.1f} us {r['energy_j'] * 1e6:>7.2f} uJ "
            f"{r['prog_s'] * 1e3:>6.1f} ms {r['diff_ideal']:>12.3g} {r['diff_adc']:>10.3g} "
            f"{r['vs_ort_adc']:>7.2%}"
        )
    lines.append(
        "(prefix: instructions a session runs once; restore: bytes put back before each run; "
        "latency, energy: one inference; weights: programming the arrays once; max|d|: "
        "simulator vs int-exact numpy reference; vs ORT: max|d| / max|y| to fp32 onnxruntime)"
    )
    return "\n".join(lines)


def _pair(r: dict, key: str) -> str:
    return f"{_ms(r[key])} ({_ms(r[key + '.cpu'])})"


def environment() -> str:
    """One line naming what the numbers depend on."""
    blas = ""
    try:  # optional: reports numpy's BLAS threads when threadpoolctl is installed
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
        )
    except ImportError:
        blas = "BLAS threads unknown"
    load = "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"python {platform.python_version()}, numpy {np.__version__} ({blas}), onnxruntime "
        f"{ort.__version__}, {os.cpu_count()} CPUs, load average {load}"
    )


def main(argv=None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(sim_models.WORKLOADS), help="workloads")
    parser.add_argument("--repeat", type=int, default=41, help="timed rounds (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument(
        "--blas-threads",
        default="1",
        help="threads of numpy's BLAS (default 1, like onnxruntime's 1-thread column)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be >= 1 and --warmup >= 0")
    start = time.perf_counter()
    rows = []
    for name in args.only or list(sim_models.WORKLOADS):
        rows.append(bench_one(name, args.repeat, args.warmup))
        print(f"  {name} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    print(environment())
    print(format_tables(rows))
    script = Path(sys.argv[0]).as_posix() if argv is None else "bench/sim_speed.py"
    cmd = shlex.join(["python", script, *(sys.argv[1:] if argv is None else argv)])
    print(f"\nreproduce: {cmd}   ({time.perf_counter() - start:.0f} s)")
    bad = [r["name"] for r in rows if r["diff_ideal"] != 0 or r["diff_adc"] != 0]
    if bad:
        print(
            "error: simulator output differs from the int reference, or a session's report "
            f"from the one-shot run's: {', '.join(bad)}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
