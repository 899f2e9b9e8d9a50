"""Gather the benchmark runs of ``make bench`` into bench/out/results.json and RESULTS.md.

Inputs (each written by its benchmark with ``--json``): ``paper.json`` (B1–B6, bench/paper.py),
``sim_speed.json`` (simulated inference against onnxruntime, bench/sim_speed.py),
``transformers.json`` (MiniLM-L6 accuracy on held-apart sentences, bench/transformers.py) and the
example sweep's table (``sweep.csv``, ``imcc sweep examples/sweep/digits.toml``). Every row has ``id``,
``workload``, ``metric``, ``paper``, ``imcc``, ``ratio`` (imcc ÷ paper), ``command`` and ``note``.
A row that differs from its paper figure by more than 15 % must carry a note that says why;
this script fails (exit 1) when one does not.

    python bench/results.py              # after the benchmarks wrote bench/out/*.json
"""

from __future__ import annotations

import csv
import json
import platform
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
TOLERANCE = 0.15
SWEEP_COMMAND = "imcc sweep examples/sweep/digits.toml -o bench/out/sweep.parquet"


def speed_rows(data: dict) -> list[dict]:
    """Simulated inference time ÷ onnxruntime fp32 (1 thread), and compile time, per workload."""
    rows = []
    for r in data["rows"]:
        name = r["name"]
        short = name.split()[0]
        rows.append({
            "id": f"speed.{short}", "workload": name,
            "metric": "simulated inference / onnxruntime fp32 (1 thread), session",
            "paper": None, "imcc": r["sim"] / r["ort_1t"], "ratio": None,
            "command": data["command"],
            "note": f"session {r['sim'] * 1e3:.1f} ms, onnxruntime {r['ort_1t'] * 1e3:.1f} ms; "
                    f"output equals the interpreter's bit for bit: {r['exact']}",
        })  # fmt: skip
        rows.append({
            "id": f"compile.{short}", "workload": name, "metric": "compile time (s, in process)",
            "paper": None, "imcc": r["compile_s"], "ratio": None, "command": data["command"],
            "note": "",
        })  # fmt: skip
    return rows


def accuracy_rows(path: Path) -> list[dict]:
    """Accuracy per precision of the example sweep (8-bit ADC, 16 arrays), with onnxruntime's."""
    with path.open() as f:
        points = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    rows = []
    for r in points:
        if r.get("set.arrays.ima.adc_bits") != "8" or r.get("set.arrays.ima.count") != "16":
            continue
        rows.append({
            "id": f"accuracy.{r['model']}.{r['precision']}", "workload": f"{r['model']}, cluster",
            "metric": f"test {r['metric']}, {r['precision']}", "paper": None,
            "imcc": float(r["accuracy"]), "ratio": None, "command": SWEEP_COMMAND,
            "note": f"onnxruntime fp32 {float(r['reference']):.4f}; the whole sweep (ADC bits x "
                    "arrays x precision) is bench/out/sweep.csv and its Pareto plot sweep.png",
        })  # fmt: skip
    return rows


def transformer_rows(data: dict) -> list[dict]:
    """MiniLM-L6 sentence-embedding cosine to fp32 on held-apart sentences, per placement."""
    return [
        {
            "id": f"accuracy.minilm-l6.{r['attention']}",
            "workload": "MiniLM-L6, bert-chip, --precision auto --accuracy-budget 0.01",
            "metric": f"held-apart sentence-embedding cosine to fp32 (mean), attention on "
            f"{r['attention']}",
            "paper": None,
            "imcc": r["cos_mean"],
            "ratio": None,
            "command": data["command"],
            "note": f"minimum {r['cos_min']:.5f}; bit-exact to the interpreter: {r['exact']}; "
            f"{r['latency_ms']:.1f} ms, {r['energy_mj']:.2f} mJ simulated",
        }  # fmt: skip
        for r in data["rows"]
    ]


def unexplained(rows: list[dict]) -> list[str]:
    return [
        r["id"]
        for r in rows
        if r["ratio"] is not None and abs(r["ratio"] - 1) > TOLERANCE and not r["note"]
    ]


def markdown(rows: list[dict]) -> str:
    head = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {platform.machine()} Python {platform.python_version()}; "
        "every figure is from a model compiled by imcc and run on the simulated chip. "
        "`ratio` is imcc ÷ paper; rows more than 15 % off say why in their note.",
        "",
        "| id | workload | metric | paper | imcc | ratio | command |",
        "|---|---|---|---|---|---|---|",
    ]
    body = []
    for r in rows:
        paper = "" if r["paper"] is None else f"{r['paper']:g}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        body.append(
            f"| {r['id']} | {r['workload']} | {r['metric']} | {paper} | {r['imcc']:.4g} | "
            f"{ratio} | `{r['command']}` |"
        )
    notes = ["", "## Notes", ""] + [f"- **{r['id']}**: {r['note']}" for r in rows if r["note"]]
    return "\n".join(head + body + notes) + "\n"


def main() -> int:
    rows: list[dict] = []
    sources = {
        "paper.json": lambda p: json.loads(p.read_text()),
        "sim_speed.json": lambda p: speed_rows(json.loads(p.read_text())),
        "sweep.csv": accuracy_rows,
        "transformers.json": lambda p: transformer_rows(json.loads(p.read_text())),
    }
    for name, read in sources.items():
        path = OUT / name
        if not path.exists():
            print(f"results: {path} is missing (its benchmark did not run)", file=sys.stderr)
            return 1
        rows += read(path)
    (OUT / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    (OUT / "RESULTS.md").write_text(markdown(rows))
    print(markdown(rows))
    bad = unexplained(rows)
    if bad:
        print(f"results: rows off the paper by > 15 % without a note: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
