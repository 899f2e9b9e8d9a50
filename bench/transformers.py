"""MiniLM-L6 on the bert-chip target, end to end: accuracy on held-apart sentences, exactness, and
attention on the dynamic arrays against attention on the cores.

The model (``make models``: models/build/minilm-l6.onnx, sequence 128) is compiled by imcc for
``--target bert-chip --precision auto --accuracy-budget 0.01`` with the first half of the
committed sentences (models/build/sentences-s128.npz) as calibration data, once per attention
placement (``--attention dynamic-arrays`` and ``--attention cores``). For each program it runs
the other half of the sentences (held apart from calibration) on the simulated chip and prints

- the cosine similarity of the sentence embeddings (the model's mean-pooled output) to
  onnxruntime's fp32 embeddings: mean and minimum over the held-apart sentences;
- whether the binary's outputs equal the reference interpreter's on the program's quant IR
  bit for bit (they must);
- the simulated latency and energy of one inference, and the busiest unit;
- compile and simulation wall times.

    python bench/transformers.py              # both placements, ~2 minutes
    python bench/transformers.py --attention dynamic-arrays
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from imcc.compiler.backend.emit import emit_program
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.pipelines import LEVELS
from imcc.compiler.pm import PassManager, parse_pipeline
from imcc.runtime.sim.runner import run_program

import imcc

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "build" / "minilm-l6.onnx"
SENTENCES = REPO / "models" / "build" / "sentences-s128.npz"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BACKEND_STEPS = [s for lv in LEVELS if lv.name in ("imc", "isa") for s in lv.steps]


def measure(attention: str, calibration: dict, held: dict, budget: float) -> dict:
    """Compile for one placement, run the held-apart sentences, compare."""
    shapes = {k: v.shape for k, v in held.items()}
    start = time.perf_counter()
    module = imcc.compile(
        str(MODEL), emit="quant", precision="auto", accuracy_budget=budget, target="bert-chip",
        calibration=calibration, input_shapes=shapes, attention=attention,
        notes=lambda m: None,
    )  # fmt: skip
    quant_seconds = time.perf_counter() - start
    want = run_module(module, held).as_list()
    start = time.perf_counter()
    PassManager(parse_pipeline(",".join(BACKEND_STEPS))).run(module)
    program = emit_program(module)
    compile_seconds = quant_seconds + time.perf_counter() - start
    names = json.loads(program.meta["inputs"])
    start = time.perf_counter()
    result = run_program(program, {table: held[model] for table, model in names.items()})
    run_seconds = time.perf_counter() - start
    outs = [result.outputs[t.name] for t in program.tensors if t.role == "output"]
    ref_session = ort.InferenceSession(str(MODEL))
    out_names = [o.name for o in ref_session.get_outputs()]
    ref = ref_session.run(None, held)
    got, fp32 = (x[out_names.index("sentence_embedding")] for x in (outs, ref))
    cos = (got * fp32).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(fp32, axis=1)
    inference = result.report.to_dict().get("inference", {})
    return {
        "attention": attention,
        "cos_mean": float(cos.mean()),
        "cos_min": float(cos.min()),
        "exact": all(np.array_equal(a, b) for a, b in zip(outs, want)),
        "latency_ms": inference.get("seconds", float("nan")) * 1e3,
        "energy_mj": inference.get("energy_pj", float("nan")) * 1e-9,
        "bound": result.report.to_text().splitlines()[4].rpartition("busiest unit: ")[2][:-1],
        "writes": sum(r.mnemonic == "xb.write" for r in result.records),
        "compile_s": compile_seconds,
        "run_s": run_seconds,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attention", choices=("dynamic-arrays", "cores"), action="append")
    p.add_argument("--budget", type=float, default=0.01, help="--accuracy-budget (default 0.01)")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = p.parse_args(argv)
    if not MODEL.exists() or not SENTENCES.exists():
        print(
            f"error: {MODEL.name} or {SENTENCES.name} missing: run `make models`", file=sys.stderr
        )
        return 1
    data = np.load(SENTENCES)
    half = len(data["input_ids"]) // 2
    calibration = {k: data[k][:half] for k in INPUTS}
    held = {k: data[k][half : 2 * half] for k in INPUTS}
    rows = [
        measure(a, calibration, held, args.budget)
        for a in args.attention or ("dynamic-arrays", "cores")
    ]
    print(f"MiniLM-L6, bert-chip, --precision auto --accuracy-budget {args.budget}; "
          f"{half} calibration sentences, {half} held-apart sentences (one batch), seq 128")  # fmt: skip
    head = (
        f"{'attention':15} {'cos mean':>9} {'cos min':>8} {'bit-exact':>9} {'latency':>11} "
        f"{'energy':>9} {'bound':>6} {'writes':>6} {'compile':>8} {'run':>6}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['attention']:15} {r['cos_mean']:9.5f} {r['cos_min']:8.5f} "
            f"{'yes' if r['exact'] else 'NO':>9} {r['latency_ms']:8.2f} ms {r['energy_mj']:6.2f} mJ "
            f"{r['bound']:>6} {r['writes']:6d} {r['compile_s']:7.1f}s {r['run_s']:5.1f}s"
        )
    command = shlex.join(
        ["python", "bench/transformers.py", *(sys.argv[1:] if argv is None else argv)]
    )
    print(f"reproduce: {command}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
