"""Seeded fuzzing of every input edge: IR text, ONNX models, prog.bin, .npy inputs, command lines.

Each case is derived from its number alone (``random.Random(seed * 1_000_003 + number)``): a
mutation of a seed file (byte flips, cut or repeated spans, inserted hostile tokens, truncation,
huge dimensions, invalid UTF-8) or a random command line, handed to one of the five tools. The
tools run in worker processes under a 4 GiB address-space limit, each case with a 20 s alarm.
An outcome passes when the tool exits 0, or exits 1 or 2 with exactly one ``error:`` line, no
traceback and no output file left behind. Everything else — exit 3 (internal error), a
traceback, a hang, a memory blow-up, a half-written output — is a finding, printed with the case
number that reproduces it.

    python tests/fuzz/fuzzkit.py --cases 5000            # the campaign (make fuzz)
    python tests/fuzz/fuzzkit.py --only 1234 --verbose   # one case again
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import random
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KINDS = ("ir", "onnx", "bin", "npy", "cli")
TIMEOUT_S = 20
ADDRESS_SPACE = 4 << 30
TOKENS = (
    "[", "]", "{", "}", "(", ")", "<", ">", "%", '"', "dense<", "tensor<", "x", "?", "-1", "0",
    "nan", "inf", "1e999", "i0", "i999", "f7", "tensor<99999999x99999999xf32>", "#", "^bb9",
    "\x00", "\\", "\ufffd", "-> ()", "loc(", "dense_resource<", "{-#", "#-}", "[[[[[[[[[[",
)  # fmt: skip
TOOLS = {
    "imcc": "imcc.compiler.tools.driver",
    "imcc-opt": "imcc.compiler.tools.opt",
    "imcc-run": "imcc.tools.run",
    "imcc-as": "imcc.runtime.tools.asm",
    "imcc-objdump": "imcc.runtime.tools.objdump",
}


#: A diagnostic line ("FILE:L:C: error: ...", "imcc: error: ...", "error: ..."), not an echoed
#: source line that happens to contain "error:".
ERROR_LINE = re.compile(r"^(?:\S+: )?error: ")


class CaseTimeout(BaseException):
    """Raised by the alarm: not an Exception, so no tool's handler swallows it."""


@dataclass
class Case:
    number: int
    kind: str
    tool: str
    argv: list[str]
    files: dict[str, bytes]
    output: str | None = None


@dataclass
class Outcome:
    number: int
    kind: str
    tool: str
    verdict: str  # ok, refused, or a finding: internal, traceback, lines, hang, memory, written
    detail: str = ""


# --- seed files ----------------------------------------------------------------------------------


def _seeds(workdir: Path) -> dict[str, list[bytes]]:
    """Valid files of each kind to mutate (built once per worker)."""
    import numpy as np

    ir = [p.read_bytes() for p in sorted((REPO / "tests" / "golden").rglob("*.mlir"))]
    onnx_files = [
        (REPO / "models" / "digits" / "digits_cnn.onnx").read_bytes(),
        (REPO / "models" / "digits" / "digits_mlp.onnx").read_bytes()
        if (REPO / "models" / "digits" / "digits_mlp.onnx").exists()
        else (REPO / "models" / "digits" / "digits_mbv2.onnx").read_bytes(),
        (REPO / "models" / "fixtures" / "tiny_bert_opset17.onnx").read_bytes(),
    ]
    buf = io.BytesIO()
    np.save(buf, np.zeros((1, 1, 8, 8), np.float32))
    binary = workdir / "seed.bin"
    with contextlib.redirect_stderr(io.StringIO()):
        _call("imcc", [str(REPO / "models/digits/digits_cnn.onnx"), "--precision", "fp32",
                       "--input-shape", "input=1x1x8x8", "-o", str(binary)])  # fmt: skip
    return {"ir": ir, "onnx": onnx_files, "bin": [binary.read_bytes()], "npy": [buf.getvalue()]}


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to four random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("flip", "cut", "repeat", "token", "truncate", "utf8"))
        n = len(out)
        at = rng.randrange(n) if n else 0
        if op == "flip" and n:
            out[at] = rng.randrange(256)
        elif op == "cut" and n:
            del out[at : at + rng.randint(1, 64)]
        elif op == "repeat" and n:
            span = out[at : at + rng.randint(1, 200)]
            out[at:at] = span * rng.randint(1, 50)
        elif op == "token":
            out[at:at] = rng.choice(TOKENS).encode("utf-8") * rng.choice((1, 1, 1, 300))
        elif op == "truncate":
            del out[at:]
        elif op == "utf8" and n:
            out[at : at + 1] = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"))
    return bytes(out)


def make_case(number: int, seed: int, seeds: dict[str, list[bytes]]) -> Case:
    rng = random.Random(seed * 1_000_003 + number)
    kind = KINDS[number % len(KINDS)]
    model = str(REPO / "models" / "digits" / "digits_cnn.onnx")
    if kind == "ir":
        tool = rng.choice(("imcc-opt", "imcc-run", "imcc"))
        argv = ["{in}.mlir"]
        if tool == "imcc-opt":
            argv += ["-p", rng.choice(("canonicalize,cse", "dce", "fold-constants"))]
        elif tool == "imcc":
            argv += ["--emit", "onnx"]
        return Case(number, kind, tool, argv + (["-o", "{out}"] if tool != "imcc-run" else []),
                    {"in.mlir": mutate(rng, rng.choice(seeds["ir"]))}, "{out}")  # fmt: skip
    if kind == "onnx":
        emit = rng.choice(("onnx", "onnx", "quant", "bin"))
        argv = ["{in}.onnx", "--emit", emit, "-o", "{out}"]
        if emit != "onnx":
            argv += ["--precision", rng.choice(("fp32", "int8"))]
        return Case(
            number, kind, "imcc", argv, {"in.onnx": mutate(rng, rng.choice(seeds["onnx"]))}, "{out}"
        )
    if kind == "bin":
        tool = rng.choice(("imcc-objdump", "imcc-run"))
        argv = ["{in}.bin"] + (["--input", "input={dir}/x.npy"] if tool == "imcc-run" else [])
        files = {"in.bin": mutate(rng, seeds["bin"][0]), "x.npy": seeds["npy"][0]}
        return Case(number, kind, tool, argv, files)
    if kind == "npy":
        return Case(number, kind, "imcc-run", [model, "--input", "input={in}.npy"],
                    {"in.npy": mutate(rng, seeds["npy"][0])})  # fmt: skip
    flags = [
        ["--emit", rng.choice(("onnx", "quant", "imc", "isa", "asm", "bin", "nope", ""))],
        ["--precision", rng.choice(("fp32", "int8", "ternary", "auto", "int3", ""))],
        ["--target", rng.choice(("cluster", "fat", "bert-chip", "nosuch", "/", "x.toml"))],
        [
            "--set",
            rng.choice(
                (
                    "arrays.ima.count=0",
                    "memory.L2.size=1e30",
                    "a=b",
                    "=",
                    "x",
                    "arrays.ima.rows=nan",
                    "cores.count=3",
                )
            ),
        ],  # fmt: skip
        ["--input-shape", rng.choice(("input=1x1x8x8", "input=0x1", "input=", "x=1", "input=axb"))],
        ["--accuracy-budget", rng.choice(("0.01", "-1", "nan", "x"))],
        ["--pass-pipeline", rng.choice(("cse", "nosuch", "ternarize{factor=nan}", "{", ""))],
        ["--print-ir-after", rng.choice(("cse", "nosuch", ","))],
        ["--attention", rng.choice(("cores", "dynamic-arrays", "x"))],
        ["--calibration", rng.choice(("/dev/null", "/nonexistent.npz", "{in}.npy"))],
    ]
    argv = [model] + [a for f in rng.sample(flags, rng.randint(1, 4)) for a in f]
    return Case(number, kind, "imcc", argv + ["-o", "{out}"], {"in.npy": seeds["npy"][0]}, "{out}")


# --- running -------------------------------------------------------------------------------------


def _call(tool: str, argv: list[str]) -> int:
    import importlib

    module = importlib.import_module(TOOLS[tool])
    result = module.main(argv)
    return int(result or 0)


def _alarm(signum, frame):
    raise CaseTimeout()


def run_case(case: Case, workdir: Path) -> Outcome:
    folder = Path(tempfile.mkdtemp(dir=workdir))
    names = {"{in}": str(folder / "in"), "{out}": str(folder / "out.result"), "{dir}": str(folder)}
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    argv = [_fill(a, names) for a in case.argv]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _call(case.tool, argv)
    except CaseTimeout:
        return Outcome(case.number, case.kind, case.tool, "hang", " ".join(argv))
    except MemoryError:
        return Outcome(case.number, case.kind, case.tool, "memory", " ".join(argv))
    except SystemExit as done:  # argparse's --help / usage exits
        code = int(done.code or 0) if isinstance(done.code, int) or done.code is None else 2
    finally:
        signal.alarm(0)
    text = err.getvalue()
    errors = _error_lines(text)
    written = case.output and os.path.exists(_fill(case.output, names))
    if "internal error" in text or code == 3:
        verdict = "internal"
    elif "Traceback" in text:
        verdict = "traceback"
    elif code == 0:
        verdict = "ok"
    elif code in (1, 2) and len(errors) == 1 and not written:
        verdict = "refused"
    elif written:
        verdict = "written"
    else:
        verdict = "lines"
    detail = f"{' '.join(argv)} :: exit {code}, {time.perf_counter() - start:.1f}s :: {text[-400:]}"
    return Outcome(case.number, case.kind, case.tool, verdict, detail)


def _error_lines(text: str) -> list[str]:
    """The diagnostics in ``text``; the source line echoed under a located one is not one."""
    errors, echo = [], False
    for line in text.splitlines():
        if not echo and ERROR_LINE.match(line):
            errors.append(line)
            echo = True
        else:
            echo = False
    return errors


def _fill(text: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        text = text.replace(key, value)
    return text


def _worker(args) -> list[Outcome]:
    numbers, seed = args
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    os.environ.setdefault("IMCC_MAX_BYTES", str(ADDRESS_SPACE // 4))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        seeds = _seeds(workdir)
        return [run_case(make_case(n, seed, seeds), workdir) for n in numbers]


def campaign(numbers: list[int], seed: int = 0, jobs: int = 2, chunk: int = 50) -> list[Outcome]:
    """Run the cases (in ``jobs`` worker processes, ``chunk`` cases per worker run)."""
    chunks = [(numbers[i : i + chunk], seed) for i in range(0, len(numbers), chunk)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs, maxtasksperchild=1) as pool:
        results = pool.map(_worker, chunks)
    return [o for part in results for o in part]


def summary(outcomes: list[Outcome]) -> str:
    from collections import Counter

    lines = []
    by_kind = Counter((o.kind, o.verdict) for o in outcomes)
    for kind in KINDS:
        counts = {v: n for (k, v), n in by_kind.items() if k == kind}
        lines.append(f"{kind:5} {sum(counts.values()):6}  " + ", ".join(
            f"{v} {n}" for v, n in sorted(counts.items())))  # fmt: skip
    bad = [o for o in outcomes if o.verdict not in ("ok", "refused")]
    lines.append(f"total {len(outcomes)} cases, {len(bad)} findings")
    lines += [
        f"  case {o.number} [{o.kind}/{o.tool}] {o.verdict}: {o.detail[:300]}" for o in bad[:30]
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", type=int, action="append", help="run just these case numbers")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    numbers = args.only or list(range(args.cases))
    start = time.perf_counter()
    outcomes = campaign(numbers, args.seed, args.jobs)
    print(summary(outcomes))
    if args.verbose:
        for o in outcomes:
            print(f"case {o.number} {o.verdict}: {o.detail}")
    print(f"{time.perf_counter() - start:.0f} s; reproduce: python tests/fuzz/fuzzkit.py "
          f"--cases {args.cases} --seed {args.seed}")  # fmt: skip
    return 0 if all(o.verdict in ("ok", "refused") for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
