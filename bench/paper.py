"""The seed papers' headline figures (B1–B6 of TARGET.md), reproduced from models compiled by imcc.

Every figure comes from an ONNX model compiled with ``imcc.compile`` to a program binary and run on
the simulated chip (``CompiledProgram.run``); what a paper compares against is another compilation
or another run of the same binary under a ``--set`` what-if:

- B1 (FAT): one ternary layer with no zero weight (every weight ±1, 256 inputs, 256 outputs, a
  batch of 256 rows, one per memory column) on ``fat``, run with ``arrays.fat.addition=fat`` and
  ``=parapim``: the arrays' busy cycles. Paper: addition 2.00× faster.
- B2 (FAT): the bundled digits CNN ternarized to a target sparsity (``ternarize{sparsity=S}``: the data-aware fit keeping that many zeros)
  of 50–90 %, on ``fat``, zero-skipping FAT vs dense ParaPIM: the arrays' cycles and energy (the
  accelerator the paper measures), the whole chip's too (its cores run pooling and requantization
  in both), and the test accuracy at each sparsity. Paper: 10.02× speed, 12.19× energy at 80 %.
- B3 (cluster): the MobileNetV2 bottleneck (56×56×24, expand 6) in int8 on the arrays, depthwise
  unit and cores, against the fp32 program on the 8 cores alone (``--precision fp32``). Paper:
  11.5× performance, 9.5× energy efficiency, against int8 software; the what-if row prices our
  fp32 core kernels at the int8 rate (``cores.kernels.matmul_f32`` and ``dwconv``).
- B4 (cluster): the same bottleneck with the depthwise unit removed (``--set dwunit=none``: the
  depthwise convolution runs on the cores) against the same software program. Paper: ≈3×.
- B5 (cluster): MobileNetV2-224 in int8: arrays needed and used, latency and energy of one
  inference, and the per-layer chart (``bench/out/b5-layers.png``).
- B6 (bert-chip): BERT-Large (24 layers, seeded weights, sequence 128), ternary: whether it fits
  one chip, arrays used, area and energy by unit, and attention's run-time products on the dynamic
  arrays against the cores.

Latency and energy are those of one inference with the weights already programmed (the report's
``inference`` section), as the papers count them. ``--json FILE`` writes the rows
(``id, workload, metric, paper, imcc, ratio, command, note``) for ``bench/results.py``.

    python bench/paper.py                  # every row (B6 needs `make bert-large`)
    python bench/paper.py --only B1 B2
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import imcc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.cnn.digits_data import load_split  # noqa: E402

BUILD = ROOT / "models" / "build"
OUT = ROOT / "bench" / "out"
QUIET = {"notes": lambda m: None}
SPARSITIES = (0.5, 0.6, 0.7, 0.8, 0.9)


def command(*only: str) -> str:
    return shlex.join(["python", "bench/paper.py", "--only", *only])


def row(id_, workload, metric, paper, value, note="") -> dict:
    """One result: ``ratio`` is imcc ÷ paper where the paper gives a number."""
    ratio = value / paper if paper else None
    return {
        "id": id_,
        "workload": workload,
        "metric": metric,
        "paper": paper,
        "imcc": value,
        "ratio": ratio,
        "command": command(id_.split("-")[0].split(".")[0]),
        "note": note,
    }


def inference(result) -> dict:
    """Cycles and energy (pJ) of one inference, in total and on the arrays (their busy cycles
    and their compute energy: the ``array.*`` categories but weight writes)."""
    report = result.report.to_dict()
    arrays = [u for u in report["units"] if u["unit"].startswith("array")]
    inf = report["inference"]
    compute = {k: v for k, v in report["energy_pj"].items() if k.startswith("array.")}
    compute.pop("array.write", None)
    return {
        "cycles": inf["cycles"],
        "energy_pj": inf["energy_pj"],
        "array_cycles": sum(u["busy_cycles"] for u in arrays),
        "array_energy_pj": sum(compute.values()),
        "report": report,
    }


def ternary_steps(sparsity: float) -> tuple[str, ...]:
    """The quant level's steps with one ternary plane per layer at ``sparsity`` zeros."""
    from imcc.compiler.precision.pipeline import precision_steps

    rule = f"ternarize{{sparsity={sparsity}}}"  # the data-aware fit, keeping that many zeros
    return tuple(rule if s == "ternarize" else s for s in precision_steps("ternary", report=False))


def compile_via_quant(model, quant_steps, **options):
    """(the precision report of the quant level, the program): ``model`` compiled to the quant
    level with ``quant_steps``, then on to a binary."""
    from imcc.compiler.pipelines import IMC_LEVEL, ISA_LEVEL, pipeline_to
    from imcc.compiler.precision.report import build_report

    module = imcc.compile(
        model, emit="quant", pipeline=pipeline_to("quant", {"quant": quant_steps}), **options
    )
    report = build_report(module)
    program = imcc.compile(module, pipeline=",".join(IMC_LEVEL.steps + ISA_LEVEL.steps))
    return report, program


def weight_sparsity(report: dict) -> float:
    """Fraction of zero weight cells over every crossbar layer of a precision report."""
    layers = report["layers"]
    weights = sum(ly["weights"] * ly["planes"] for ly in layers)
    zeros = sum(ly["sparsity"] * ly["weights"] * ly["planes"] for ly in layers)
    return zeros / weights if weights else float("nan")


# --- B1 -------------------------------------------------------------------------------------


def dense_ternary_layer(n: int = 256, seed: int = 0) -> onnx.ModelProto:
    """x[n, n] · W[n, n] with every weight ±1: a layer of pure in-memory additions."""
    rng = np.random.default_rng(seed)
    w = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n, n))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="adds")],
        "b1",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def b1() -> list[dict]:
    model = dense_ternary_layer()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 256)).astype(np.float32)
    program = imcc.compile(
        model.SerializeToString(), target="fat", precision="ternary",
        calibration={"x": x}, **QUIET,
    )  # fmt: skip
    fat = inference(program.run({"x": x}))
    para = inference(program.run({"x": x}, overrides={"arrays.fat.addition": "parapim"}))
    return [
        row(
            "B1",
            "256x256 ±1 layer, fat",
            "addition speed, FAT vs ParaPIM (array cycles)",
            2.00,
            para["array_cycles"] / fat["array_cycles"],
            f"FAT {fat['array_cycles']:,} vs ParaPIM {para['array_cycles']:,} array cycles; "
            f"whole inference {para['cycles'] / fat['cycles']:.2f}x "
            "(stream-in/out and job overhead are the same in both modes)",
        )  # fmt: skip
    ]


# --- B2 -------------------------------------------------------------------------------------


def b2() -> tuple[list[dict], list[dict]]:
    split = load_split()
    model = ROOT / "models" / "digits" / "digits_cnn.onnx"
    x, labels = split.x_test, split.y_test
    shapes = {"input": x.shape}
    calib = {"input": split.x_calib}
    sweep, rows = [], []
    for s in SPARSITIES:
        report, program = compile_via_quant(
            model, ternary_steps(s), target="fat", input_shapes=shapes, calibration=calib,
            **QUIET,
        )  # fmt: skip
        fat_run = program.run({"input": x})
        fat = inference(fat_run)
        para = inference(program.run({"input": x}, overrides={"arrays.fat.addition": "parapim"}))
        logits = next(iter(fat_run.outputs.values()))
        point = {
            "sparsity": s,
            "measured_sparsity": weight_sparsity(report),
            "accuracy": float((logits.argmax(1) == labels).mean()),
            "array_speedup": para["array_cycles"] / fat["array_cycles"],
            "array_energy_gain": para["array_energy_pj"] / fat["array_energy_pj"],
            "chip_speedup": para["cycles"] / fat["cycles"],
            "chip_energy_gain": para["energy_pj"] / fat["energy_pj"],
        }
        sweep.append(point)
        paper = (10.02, 12.19) if s == 0.8 else (None, None)
        what = f"digits CNN, {x.shape[0]} test images, {int(100 * s)}% zero weights, fat"
        rows.append(row(
            f"B2-{int(100 * s)}", what, "speed, zero-skip vs dense (array cycles)", paper[0],
            point["array_speedup"],
            f"measured sparsity {point['measured_sparsity']:.3f}; whole chip "
            f"{point['chip_speedup']:.2f}x (pooling, requantization on the cores in both); "
            f"accuracy {100 * point['accuracy']:.1f}%",
        ))  # fmt: skip
        rows.append(row(
            f"B2-{int(100 * s)}.energy", what, "energy, zero-skip vs dense (arrays)", paper[1],
            point["array_energy_gain"], f"whole chip {point['chip_energy_gain']:.2f}x",
        ))  # fmt: skip
    return rows, sweep


# --- B3 / B4 --------------------------------------------------------------------------------


def b3_b4() -> list[dict]:
    model = BUILD / "mbv2_bottleneck.onnx"
    x = {"input": np.random.default_rng(0).standard_normal((1, 24, 56, 56)).astype(np.float32)}
    software = imcc.compile(model, precision="fp32", **QUIET)
    sw = inference(software.run(x))
    sw_int8 = inference(software.run(x, overrides=INT8_RATE))
    cluster = imcc.compile(model, precision="int8", **QUIET)
    hw = inference(cluster.run(x))
    what_if = {
        cost: inference(cluster.run(x, overrides={"cores.kernels.requant": cost}))
        for cost in ("1", "0.5")
    }
    no_dw = imcc.compile(model, precision="int8", target_overrides={"dwunit": "none"}, **QUIET)
    pw = inference(no_dw.run(x))
    inf = hw["report"]["inference"]
    workload = "MobileNetV2 bottleneck 56x56x24, int8, cluster"
    bound = (
        f"one inference takes {hw['cycles']:,} cycles; its lower bound is the busiest unit, "
        f"{inf['busiest_unit']} ({inf['lower_bound_cycles']:,} cycles): the cores requantize "
        "every int32 column sum of the arrays (cl.requant, cores.kernels.requant = 2 cycles/"
        "element, two 4-bit weight planes per int8 layer)"
    )
    ifs = "; ".join(
        f"--set cores.kernels.requant={c}: {sw['cycles'] / m['cycles']:.2f}x"
        for c, m in what_if.items()
    )
    rate = " ".join(f"{k}={v}" for k, v in INT8_RATE.items())
    return [
        row("B3", workload, "performance vs the fp32 program on 8 cores alone", 11.5,
            sw["cycles"] / hw["cycles"],
            f"{bound}. What-ifs: {ifs}. The paper's baseline is int8 software; pricing the "
            f"software program's kernels at int8 rates (--set {rate}) gives "
            f"{sw_int8['cycles'] / hw['cycles']:.2f}x"),
        row("B3.energy", workload, "energy efficiency vs the fp32 program on 8 cores", 9.5,
            sw["energy_pj"] / hw["energy_pj"],
            f"inference energy by category: {top_categories(hw['report'])}; against int8-rate "
            f"software {sw_int8['energy_pj'] / hw['energy_pj']:.2f}x"),
        row("B4", workload.replace("cluster", "cluster, --set dwunit=none"),
            "pointwise on arrays, depthwise on cores vs all software", 3.0,
            sw["cycles"] / pw["cycles"],
            f"against int8-rate software {sw_int8['cycles'] / pw['cycles']:.2f}x; the "
            f"depthwise convolution on the cores is {pw['cycles'] - hw['cycles']:,} cycles "
            "longer than on the depthwise unit"),
    ]  # fmt: skip


#: The software program's core kernels priced like int8 software (4-way SIMD dot products).
INT8_RATE = {"cores.kernels.matmul_f32": "0.5", "cores.kernels.dwconv": "0.5"}


def top_categories(report: dict, n: int = 4) -> str:
    """The largest energy categories of a run, weight programming left out, as text."""
    cats = {k: v for k, v in report["energy_pj"].items() if k != "array.write"}
    total = sum(cats.values())
    top = sorted(cats.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in top)


# --- B5 -------------------------------------------------------------------------------------


def b5() -> list[dict]:
    model = BUILD / "mobilenetv2.onnx"
    x = {"input": np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)}
    program = imcc.compile(model, precision="int8", **QUIET)
    result = program.run(x)
    m = inference(result)
    report = m["report"]
    mapping = report["compiled"]["mapping"]
    write_plot(result, "b5")
    workload = "MobileNetV2-224, int8, cluster"
    return [
        row("B5.arrays", workload, "arrays used", None, mapping["arrays_used"],
            f"needed {mapping['arrays_needed']}, used {mapping['arrays_used']} of "
            f"{mapping['arrays_available']} (free arrays hold replicas of the slowest layers); "
            "charts bench/out/b5-*.png"),
        row("B5.latency", workload, "latency of one inference (ms)", None,
            report["inference"]["seconds"] * 1e3),
        row("B5.energy", workload, "energy of one inference (uJ)", None, m["energy_pj"] * 1e-6),
    ]  # fmt: skip


def write_plot(result, prefix: str) -> None:
    """The run's charts as bench/out/PREFIX-*.png (skipped with a note without matplotlib)."""
    try:
        charts = result.charts()
    except RuntimeError as err:  # matplotlib missing
        print(f"note: no charts: {err}", file=sys.stderr)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in charts.items():
        (OUT / f"{prefix}-{name}").write_bytes(data)


# --- B6 -------------------------------------------------------------------------------------


def b6() -> list[dict]:
    model = BUILD / "bert-large.onnx"
    if not model.exists():
        raise SystemExit("B6 needs models/build/bert-large.onnx: run `make bert-large` first")
    # The default pipeline: data-aware ternarization on imcc's seeded synthetic calibration.
    from imcc.compiler.precision.pipeline import precision_steps

    rng = np.random.default_rng(0)
    x = {
        "hidden_states": rng.standard_normal((1, 128, 1024)).astype(np.float32),
        "attention_mask": np.ones((1, 128), np.int64),
    }
    runs = {}
    for placement in ("dynamic-arrays", "cores"):
        steps = tuple(precision_steps("ternary", report=False, attention=placement))
        start = time.perf_counter()
        _, program = compile_via_quant(
            model,
            steps,
            target="bert-chip",
            input_shapes={"hidden_states": (1, 128, 1024), "attention_mask": (1, 128)},
            **QUIET,
        )
        seconds = time.perf_counter() - start
        result = program.run(x)
        runs[placement] = (inference(result), seconds, result)
    split, cores = runs["dynamic-arrays"][0], runs["cores"][0]
    report = split["report"]
    mapping = report["compiled"]["mapping"]
    write_plot(runs["dynamic-arrays"][2], "b6")
    workload = "BERT-Large, 24 layers, sequence 128, ternary, bert-chip"
    fits = mapping["epochs"] == 1
    units = top_categories(report, n=8)
    area = ", ".join(f"{k} {v:.3g}" for k, v in report["area_mm2"].items())
    return [
        row("B6.fits", workload, "fits one chip (1 = yes)", 1, float(fits),
            f"arrays needed {mapping['arrays_needed']}, used {mapping['arrays_used']} of "
            f"{mapping['arrays_available']}, reprogramming epochs {mapping['epochs']}; compile "
            f"{runs['dynamic-arrays'][1]:.0f} s in process (data-aware ternarize)"),
        row("B6.compile", workload, "compile time (s, in process, data-aware ternary)", None,
            runs["dynamic-arrays"][1],
            "issue target: under 120 s; `imcc bert-large.onnx -o prog.bin --target bert-chip "
            "--precision ternary` from the shell adds the start-up"),
        row("B6.area", workload, "chip area (mm2)", None, report["total"]["area_mm2"],
            f"by unit: {area}"),
        row("B6.energy", workload, "energy of one inference (mJ)", None,
            split["energy_pj"] * 1e-9,
            f"by category, weight programming left out: {units}; whole run with programming "
            f"{report['total']['energy_pj'] * 1e-9:.3g} mJ"),
        row("B6.split", workload, "attention split vs attention on cores: speed", None,
            cores["cycles"] / split["cycles"],
            f"dynamic arrays {split['cycles']:,} cycles, cores {cores['cycles']:,}; energy "
            f"{cores['energy_pj'] / split['energy_pj']:.2f}x lower with the split"),
    ]  # fmt: skip


#: Row id prefix -> the function making its rows (B3 and B4 come from one set of runs).
ROWS = {"B1": b1, "B2": lambda: b2()[0], "B3": b3_b4, "B4": b3_b4, "B5": b5, "B6": b6}


def main(argv=None) -> int:
    imcc.tune_allocator()  # as the command-line tools do at start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(ROWS), help="rows (B3 and B4 together)")
    parser.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    made = set()
    for name in args.only or list(ROWS):
        if ROWS[name] in made:  # B4 after B3: the same runs
            continue
        made.add(ROWS[name])
        start = time.perf_counter()
        rows += ROWS[name]()
        print(f"  {name} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    for r in rows:
        paper = "-" if r["paper"] is None else f"{r['paper']:g}"
        ratio = "" if r["ratio"] is None else f"  ({r['ratio']:.2f} of the paper)"
        print(f"{r['id']:10} {r['metric']:55} paper {paper:>6}  imcc {r['imcc']:.4g}{ratio}")
        if r["note"]:
            print(f"{'':10} {r['note']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
