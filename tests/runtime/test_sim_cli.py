"""imcc-run: inputs, outputs, reports, traces, and one-line errors with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _simkit import REPO
from imcc.runtime.isa.asm import assemble_file
from imcc.runtime.sim.runner import run_program
from imcc.runtime.targets import load_target
from imcc.runtime.tools.run import main
from onnx import numpy_helper

MLP = REPO / "examples" / "asm" / "mlp2"
X = np.load(MLP / "x.npy")


@pytest.fixture
def prog(tmp_path):
    path = tmp_path / "mlp2.bin"
    assemble_file(MLP / "mlp2.s").save(path)
    return path


def _expected():
    return run_program(assemble_file(MLP / "mlp2.s"), {"x": X}).outputs["y"]


def test_run_writes_outputs_report_and_trace(prog, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            str(prog),
            "--input",
            f"x={MLP / 'x.npy'}",
            "--output-dir",
            str(out),
            "--report",
            "--report-json",
            str(tmp_path / "r.json"),
            "--trace",
            str(tmp_path / "t.json"),
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["y.npy"]  # no temporary files left
    assert np.array_equal(np.load(out / "y.npy"), _expected())
    text = capsys.readouterr().out
    assert "target cluster" in text and "fc1" in text and "energy" in text
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["total"]["cycles"] > 0 and report["run"]["mode"] == "adc"
    names = [lay["name"] for lay in report["layers"]]
    assert names[0] == "[weight programming]" and names.index("fc1") < names.index("fc2")
    trace = json.loads((tmp_path / "t.json").read_text())
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(slices) == report["run"]["instructions"]
    assert {e["args"]["layer"] for e in slices} >= {"fc1", "fc2", "softmax"}


def test_same_run_twice_is_byte_identical(prog, tmp_path):
    for d in ("a", "b"):
        assert (
            main(
                [
                    str(prog),
                    "-i",
                    str(MLP / "x.npy"),
                    "-o",
                    str(tmp_path / d),
                    "--mode",
                    "noisy",
                    "--seed",
                    "9",
                    "--report-json",
                    str(tmp_path / f"{d}.json"),
                ]
            )
            == 0
        )
    assert (tmp_path / "a" / "y.npy").read_bytes() == (tmp_path / "b" / "y.npy").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_npz_and_tensor_proto_inputs(prog, tmp_path):
    np.savez(tmp_path / "in.npz", x=X)
    assert main([str(prog), "-i", str(tmp_path / "in.npz"), "-o", str(tmp_path / "a")]) == 0
    (tmp_path / "x.pb").write_bytes(numpy_helper.from_array(X, name="x").SerializeToString())
    assert main([str(prog), "-i", str(tmp_path / "x.pb"), "-o", str(tmp_path / "b")]) == 0
    for d in ("a", "b"):
        assert np.array_equal(np.load(tmp_path / d / "y.npy"), _expected())


def test_set_overrides_a_cost_parameter(prog, tmp_path):
    base, fast = tmp_path / "base.json", tmp_path / "fast.json"
    assert main([str(prog), "-i", str(MLP / "x.npy"), "--report-json", str(base)]) == 0
    assert (
        main(
            [
                str(prog),
                "-i",
                str(MLP / "x.npy"),
                "--report-json",
                str(fast),
                "--set",
                "arrays.ima.write_time=10 ns",
            ]
        )
        == 0
    )
    cycles = [json.loads(p.read_text())["total"]["cycles"] for p in (base, fast)]
    assert cycles[1] < cycles[0] / 10


def _bad(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    rc = main(argv + ["-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not out.exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["-i", "y=X"], "unknown input 'y'"),
        ([], "missing input 'x'"),
        (["-i", "x=WRONG_SHAPE"], "shape [3], expected [4, 16]"),
        (["-i", "x=F64"], "dtype float64, expected float32"),
        (["-i", "x=missing.npy"], "cannot read"),
        (["-i", "x=X", "--mode", "drift"], "needs a drift time"),
        (["-i", "x=X", "--drift-time", "5"], "needs mode 'drift'"),
        (["-i", "x=X", "--set", "clock.frq=1"], "unknown key 'clock.frq'"),
        (["-i", "x=X", "--set", "nonsense"], "expected KEY=VALUE"),
        (["-i", "x=X", "--target", "fat"], "fingerprint"),
        (["-i", "x=X", "--bogus"], "unrecognized arguments: --bogus"),
        (["-i", "x=X", "-i", "X"], "more input files than program inputs"),
        (["-i", "x=X", "--seed", "-3"], "seed must be a non-negative integer"),
        (["-i", "x=X", "--seed", "abc"], "invalid int value"),
    ],
)
def test_bad_inputs_give_one_error_line_and_no_output(prog, tmp_path, capsys, extra, message):
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "WRONG_SHAPE.npy", np.zeros(3, np.float32))
    np.save(tmp_path / "F64.npy", X.astype(np.float64))
    argv = [a.replace("X", str(tmp_path / "X.npy")) if a.endswith("X") else a for a in extra]
    argv = [a.replace("WRONG_SHAPE", str(tmp_path / "WRONG_SHAPE.npy")) for a in argv]
    argv = [a.replace("F64", str(tmp_path / "F64.npy")) for a in argv]
    if message == "fingerprint":  # a binary that records its target's fingerprint
        p = assemble_file(MLP / "mlp2.s")
        p.fingerprint = load_target("cluster").fingerprint_bytes
        p.save(prog)
        message = "rebuild the program for this target"
    _bad(tmp_path, capsys, [str(prog), *argv], message)


def test_bad_program_files(tmp_path, capsys, prog):
    _bad(tmp_path, capsys, [str(tmp_path / "none.bin")], "cannot read")
    data = prog.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-5])
    _bad(tmp_path, capsys, [str(tmp_path / "cut.bin")], "cut.bin: ")
    flipped = bytearray(data)
    flipped[200] ^= 1
    (tmp_path / "flip.bin").write_bytes(bytes(flipped))
    _bad(tmp_path, capsys, [str(tmp_path / "flip.bin")], "checksum")


def test_target_is_found_by_fingerprint_when_the_name_is_unknown(tmp_path):
    p = assemble_file(MLP / "mlp2.s")
    p.target, p.fingerprint = "renamed", load_target("cluster").fingerprint_bytes
    p.save(tmp_path / "r.bin")
    assert main([str(tmp_path / "r.bin"), "-i", str(MLP / "x.npy"), "-o", str(tmp_path / "o")]) == 0


def test_unknown_target_name_asks_for_one(tmp_path, capsys):
    p = assemble_file(MLP / "mlp2.s")
    p.target = "renamed"
    p.save(tmp_path / "r.bin")
    _bad(tmp_path, capsys, [str(tmp_path / "r.bin"), "-i", str(MLP / "x.npy")], "not a preset")


def test_run_time_faults_write_nothing(tmp_path, capsys):
    # the example on the fat target: its int4 weights do not fit ternary cells (a run-time error)
    p = assemble_file(MLP / "mlp2.s")
    p.target = "fat"
    p.save(tmp_path / "fat.bin")
    _bad(
        tmp_path,
        capsys,
        [str(tmp_path / "fat.bin"), "-i", str(MLP / "x.npy")],
        "instruction 1 (xb.prog): value",
    )


def test_plot_writes_pngs(prog, tmp_path):
    assert main([str(prog), "-i", str(MLP / "x.npy"), "--plot", str(tmp_path / "p")]) == 0
    files = sorted((tmp_path / "p").iterdir())
    assert [f.name for f in files] == ["arrays.png", "layers.png", "units.png"]
    assert all(f.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for f in files)


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "--drift-time" in capsys.readouterr().out


def test_list_and_describe_targets(capsys):
    assert main(["--list-targets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("bert-chip") and "cluster" in out and "fat" in out
    assert main(["--describe-target", "fat"]) == 0
    assert "cycles_per_bit_parapim" in capsys.readouterr().out


def test_inputs_follow_the_shared_loader_rules(prog, tmp_path, capsys):
    # suffixes in any case and NAME=FILE.npz for a one-array file, as for IR files (imcc.tools.run)
    with open(tmp_path / "X.NPY", "wb") as f:
        np.save(f, X)
    np.savez(tmp_path / "one.npz", whatever=X)
    for item in (str(tmp_path / "X.NPY"), f"x={tmp_path / 'one.npz'}"):
        out = tmp_path / f"o{len(item)}"
        assert main([str(prog), "-i", item, "-o", str(out)]) == 0
        assert np.array_equal(np.load(out / "y.npy"), _expected())
    (tmp_path / "x.txt").write_text("1 2 3")
    _bad(tmp_path, capsys, [str(prog), "-i", str(tmp_path / "x.txt")], "unknown input format")
    _bad(tmp_path, capsys, [str(prog), "-i", f"={tmp_path / 'one.npz'}"], "no input name")
