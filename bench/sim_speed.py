"""How fast compiled programs run on the simulator, against onnxruntime fp32 on the same machine.

Each workload is an ONNX model compiled by imcc to prog.bin (`imcc.compile`, seeded synthetic
calibration): MobileNetV2-224 and its bottleneck block (int8, `cluster`), a 784-512-512-10 MLP
(batch 64, ternary, `cluster`), a BERT FFN block (seq 128, 768-3072-768, int8, `bert-chip`) and
MiniLM-L6 (batch 8, seq 64, int8, `bert-chip`, attention on the dynamic arrays, calibrated on
16 committed sentences).
Like a deployment, the simulator loads the program once (`Session`: validation, constants, weight
programming) and then runs inferences; like onnxruntime's `InferenceSession.run`, the primary
number is one inference. For each workload it prints

- onnxruntime's time with 1 intra-op thread and with its default thread count (measured apart:
  its spinning thread pool would slow what runs next),
- the session's time per inference (`Session.run`, mode adc), the one-shot time (`run_program`:
  validation, weight programming and the inference, what `imcc-run` does) and the preparation
  (`Session(...)`), with the ratios to onnxruntime (the target: session / ORT 1 thread <= 3),
- the compile time, the cost model's latency and energy of one inference,
- whether the session's outputs equal the reference interpreter's on the program's `quant` IR bit
  for bit (they must), and the relative difference to onnxruntime's fp32 output (quantization
  error; informational).

Times are medians over ``--repeat`` rounds after warm-up; every round runs each inference once
(onnxruntime's and the simulator's), interleaved in rotating order, so load from other processes
hits both alike; one-shot runs and preparation are timed apart. Wall and process CPU time are both
reported: on a busy machine wall time includes waiting for a CPU, CPU time does not. numpy's BLAS
runs on one thread unless ``--blas-threads`` says otherwise. MobileNetV2 needs ``make models``.

    python bench/sim_speed.py                       # every workload, a few minutes
    python bench/sim_speed.py --only mobilenetv2 --repeat 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
REPO = Path(__file__).resolve().parents[1]


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
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import sim_onnx  # noqa: E402
from imcc.runtime.sim import run_program  # noqa: E402
from imcc.runtime.sim.session import Session  # noqa: E402

import imcc  # noqa: E402

TARGET_RATIO = 3.0
F32 = np.float32


@dataclass
class Workload:
    """An ONNX model, its inputs, and how to compile it."""

    name: str
    model: onnx.ModelProto
    inputs: dict[str, np.ndarray]
    precision: str
    target: str
    macs: int
    calibration: dict | None = None


def _dense(rng, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    w = (rng.standard_normal((k, n)) * np.sqrt(2.0 / k)).astype(F32)
    return w, (rng.standard_normal(n) * 0.1).astype(F32)


def _built(name: str) -> onnx.ModelProto:
    path = REPO / "models" / "build" / f"{name}.onnx"
    if not path.exists():
        raise SystemExit(f"error: {path} is missing: run `make models` first")
    return onnx.load(str(path))


def _image_input(model: onnx.ModelProto, rng) -> dict[str, np.ndarray]:
    inp = model.graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    return {inp.name: rng.standard_normal(shape).astype(F32)}


def _conv_macs(model: onnx.ModelProto, inputs) -> int:
    """Multiply-accumulates of every Conv and Gemm/MatMul, from onnxruntime's own shapes."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]
    }
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    macs = 0
    for node in model.graph.node:
        if node.op_type == "Conv" and node.output[0] in shapes:
            w = inits.get(node.input[1])
            if w:
                macs += int(np.prod(shapes[node.output[0]])) * int(np.prod(w[1:]))
        if node.op_type in ("Gemm", "MatMul") and node.output[0] in shapes:
            w = inits.get(node.input[1])
            if w:
                macs += int(np.prod(shapes[node.output[0]])) * w[0]
    return macs


def mobilenetv2(seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    model = _built("mobilenetv2")
    x = _image_input(model, rng)
    return Workload(
        "mobilenetv2-224 int8 cluster", model, x, "int8", "cluster", _conv_macs(model, x)
    )


def bottleneck(seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    model = _built("mbv2_bottleneck")
    x = _image_input(model, rng)
    return Workload(
        "mbv2 bottleneck int8 cluster", model, x, "int8", "cluster", _conv_macs(model, x)
    )


def resnet50(seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    model = _built("resnet50")
    x = _image_input(model, rng)
    return Workload("resnet50-224 int8 cluster", model, x, "int8", "cluster", _conv_macs(model, x))


def mlp(batch: int = 64, dims=(784, 512, 512, 10), seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    layers = [_dense(rng, k, n) for k, n in zip(dims[:-1], dims[1:])]
    model = sim_onnx.mlp(dims, layers)
    x = {"x": rng.random((batch, dims[0])).astype(F32)}
    macs = batch * sum(k * n for k, n in zip(dims[:-1], dims[1:]))
    name = f"mlp {'-'.join(map(str, dims))} b{batch} ternary cluster"
    return Workload(name, model, x, "ternary", "cluster", macs)


def ffn(seq: int = 128, d: int = 768, dff: int = 3072, seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    (w1, b1), (w2, b2) = _dense(rng, d, dff), _dense(rng, dff, d)
    model = sim_onnx.ffn(d, dff, w1, b1, w2, b2)
    x = {"x": rng.standard_normal((seq, d)).astype(F32)}
    name = f"bert ffn s{seq} {d}-{dff} int8 bert-chip"
    return Workload(name, model, x, "int8", "bert-chip", 2 * seq * d * dff)


def minilm(batch: int = 8, seq: int = 64, seed: int = 0) -> Workload:
    """MiniLM-L6 built at sequence ``seq`` from its package's weights, on the committed
    sentences (tokenized, padded to ``seq``); attention split onto the dynamic arrays."""
    import tempfile

    sys.path.insert(0, str(REPO / "models" / "transformers"))
    import build_minilm
    import tokenize_sentences
    from transformer_io import minilm_model_dir

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "minilm.onnx"
        if build_minilm.main(["--out", str(path), "--seq-len", str(seq), "--quiet"]) != 0:
            raise SystemExit("error: building MiniLM failed (are its weights installed?)")
        model = onnx.load(str(path))
    tsv = tokenize_sentences.DEFAULT_TSV
    pairs = tokenize_sentences.read_pairs(tsv)
    tokens = tokenize_sentences.tokenize_pairs(
        pairs, minilm_model_dir() / "tokenizer.json", seq, tsv
    )
    names = ("input_ids", "attention_mask", "token_type_ids")
    x = {k: tokens[k][:batch] for k in names}
    calibration = {k: tokens[k][batch : 3 * batch] for k in names}
    layers, d, dff = 6, 384, 1536
    macs = batch * layers * (seq * (4 * d * d + 2 * d * dff) + 2 * seq * seq * d)
    name = f"minilm-l6 b{batch} s{seq} int8 bert-chip"
    return Workload(name, model, x, "int8", "bert-chip", macs, calibration)


WORKLOADS = {
    "mobilenetv2": mobilenetv2,
    "bottleneck": bottleneck,
    "resnet50": resnet50,
    "mlp": mlp,
    "ffn": ffn,
    "minilm": minilm,
}


def _session(model, threads: int | None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def measure(timers: dict, repeat: int, warmup: int) -> dict[str, float]:
    """Median wall time (``name``) and median process CPU time (``name.cpu``) in seconds of each
    callable over ``repeat`` interleaved rounds (in rotating order) after ``warmup`` rounds."""
    for _ in range(warmup):
        for fn in timers.values():
            fn()
    wall = {name: [] for name in timers}
    cpu = {name: [] for name in timers}
    names = list(timers)
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start, start_cpu = time.perf_counter(), time.process_time()
            timers[name]()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    out = {name: statistics.median(ts) for name, ts in wall.items()}
    out.update({f"{name}.cpu": statistics.median(ts) for name, ts in cpu.items()})
    return out


def compile_workload(wl: Workload):
    """(the quant-level module, the program, compile seconds) of a workload."""
    shapes = {k: v.shape for k, v in wl.inputs.items()}
    model = wl.model.SerializeToString()
    quiet = dict(notes=lambda m: None, input_shapes=shapes, target=wl.target)
    if wl.calibration is not None:
        quiet["calibration"] = wl.calibration
    start = time.perf_counter()
    program = imcc.compile(model, precision=wl.precision, **quiet)
    seconds = time.perf_counter() - start
    quant = imcc.compile(model, emit="quant", precision=wl.precision, **quiet)
    return quant, program, seconds


def check(wl: Workload, quant, program) -> dict:
    """Bit-exactness of session and one-shot runs against the interpreter on the quant IR, the
    relative difference to onnxruntime, and the cost of one inference."""
    from imcc.compiler.interp.interpreter import run_module

    want = run_module(quant, wl.inputs).as_list()
    y_ort = _session(wl.model, 1).run(None, wl.inputs)[0]
    session = program.session()
    runs = [session.run(wl.inputs), session.run(wl.inputs), program.run(wl.inputs)]
    exact = all(
        len(r.outputs) == len(want)
        and all(np.array_equal(a, b) for a, b in zip(r.outputs.values(), want))
        for r in runs
    )
    y = next(iter(runs[0].outputs.values()))
    report = runs[0].report.to_dict()
    inference = report.get("inference", {})
    return {
        "exact": exact,
        "vs_ort": float(np.abs(y - y_ort).max() / max(np.abs(y_ort).max(), 1e-30)),
        "latency_s": inference.get("seconds", float("nan")),
        "energy_j": inference.get("energy_pj", float("nan")) * 1e-12,
        "instrs": len(program.program.instrs),
    }


def bench_one(name: str, repeat: int, warmup: int) -> dict:
    """Compile, check and time one workload."""
    wl = WORKLOADS[name]()
    quant, program, seconds = compile_workload(wl)
    row = {"name": wl.name, "macs": wl.macs, "compile_s": seconds}
    row.update(check(wl, quant, program))
    one = _session(wl.model, 1)
    session = Session(program.program, mode="adc")
    session.run(wl.inputs)
    inference = {
        "ort_1t": lambda: one.run(None, wl.inputs),
        "sim": lambda: session.run(wl.inputs),
    }
    row.update(measure(inference, repeat, warmup))
    once = {
        "oneshot": lambda: run_program(program.program, wl.inputs, mode="adc"),
        "prepare": lambda: Session(program.program, mode="adc"),
    }
    for key, fn in once.items():
        row.update(measure({key: fn}, max(1, repeat // 4), min(warmup, 1)))
    default = _session(wl.model, None)
    row["ort_def"] = measure({"d": lambda: default.run(None, wl.inputs)}, repeat, warmup)["d"]
    return row


def _ms(s: float) -> str:
    return f"{s * 1e3:.2f}"


def _pair(r: dict, key: str) -> str:
    return f"{_ms(r[key])} ({_ms(r[key + '.cpu'])})"


def format_tables(rows: list[dict]) -> str:
    """The speed table, the ratio table and the program table."""
    w = max(len(r["name"]) for r in rows) + 1
    lines = [
        "speed: median wall ms (and CPU ms) over the rounds",
        f"{'workload':<{w}} {'ORT 1t':>15} {'ORT def':>8} {'session':>17} {'one-shot':>17} "
        f"{'prepare':>17}",
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<{w}} {_pair(r, 'ort_1t'):>15} {_ms(r['ort_def']):>8} "
            f"{_pair(r, 'sim'):>17} {_pair(r, 'oneshot'):>17} {_pair(r, 'prepare'):>17}"
        )
    lines += [
        "(session: Session.run, one inference with the weights resident, mode adc; one-shot: "
        "run_program, validation + weight programming + inference; prepare: Session(...); "
        "ORT def: onnxruntime's default threads)",
        "",
        f"ratios: simulator / onnxruntime (the target: session / ORT 1 thread <= {TARGET_RATIO:g})",
        f"{'workload':<{w}} {'session/1t':>10} {'CPU':>6} {'session/def':>11} "
        f"{'one-shot/1t':>11} {'prepare/1t':>10} {'met':>4}",
    ]
    for r in rows:
        wall, cpu = r["sim"] / r["ort_1t"], r["sim.cpu"] / r["ort_1t.cpu"]
        ok = "yes" if max(wall, cpu) <= TARGET_RATIO else "no"
        lines.append(
            f"{r['name']:<{w}} {wall:>10.2f} {cpu:>6.2f} {r['sim'] / r['ort_def']:>11.2f} "
            f"{r['oneshot'] / r['ort_1t']:>11.2f} {r['prepare'] / r['ort_1t']:>10.2f} {ok:>4}"
        )
    lines += [
        "(met: the session's wall and CPU ratios to 1 thread both within the target)",
        "",
        "program (compiled by imcc) and cost model (one inference, weights resident)",
        f"{'workload':<{w}} {'MACs':>13} {'instrs':>7} {'compile':>8} {'latency':>11} "
        f"{'energy':>11} {'bit-exact':>9} {'vs ORT':>7}",
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<{w}} {r['macs']:>13,} {r['instrs']:>7} {r['compile_s']:>7.1f}s "
            f"{r['latency_s'] * 1e6:>8.1f} us {r['energy_j'] * 1e6:>8.1f} uJ "
            f"{'yes' if r['exact'] else 'NO':>9} {r['vs_ort']:>7.2%}"
        )
    lines.append(
        "(bit-exact: every session and one-shot output equals the reference interpreter's on the "
        "program's quant IR; vs ORT: max|d| / max|y| to fp32 onnxruntime)"
    )
    return "\n".join(lines)


def environment() -> str:
    """One line naming what the numbers depend on."""
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
    imcc.tune_allocator()  # as the command-line tools do at start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), help="workloads")
    parser.add_argument("--repeat", type=int, default=21, help="timed rounds (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument(
        "--blas-threads",
        default="1",
        help="threads of numpy's BLAS (default 1, like onnxruntime's 1-thread column)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be >= 1 and --warmup >= 0")
    start = time.perf_counter()
    rows = []
    for name in args.only or list(WORKLOADS):
        rows.append(bench_one(name, args.repeat, args.warmup))
        print(f"  {name} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    print(environment())
    print(format_tables(rows))
    script = Path(sys.argv[0]).as_posix() if argv is None else "bench/sim_speed.py"
    cmd = shlex.join(["python", script, *(sys.argv[1:] if argv is None else argv)])
    print(f"\nreproduce: {cmd}   ({time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"command": cmd, "rows": rows}, indent=1) + "\n")
    bad = [r["name"] for r in rows if not r["exact"]]
    if bad:
        print(f"error: the simulator's output differs from the interpreter's: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
