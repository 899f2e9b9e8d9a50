"""imcc sweep: the sweep file, the points it expands to, the table, resuming, and Dask over TCP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("dask.distributed")
pq = pytest.importorskip("pyarrow.parquet")

from imcc.compiler.sweep.engine import journal_path, read_journal  # noqa: E402
from imcc.compiler.sweep.pareto import front  # noqa: E402
from imcc.compiler.sweep.spec import SweepError, load_sweep  # noqa: E402
from imcc.compiler.sweep.table import without_timing  # noqa: E402
from imcc.compiler.tools.driver import main as imcc_main  # noqa: E402

GRID = """
[sweep]
name = "tiny"
precision = ["int8", "ternary"]

[[models]]
name = "mlp"
path = "mlp.onnx"
inputs = "x.npz"

[grid]
"arrays.ima.adc_bits" = [6, 8]
"""


def _folder(tmp_path: Path, text: str = GRID) -> Path:
    """A sweep folder: a two-layer MLP, labelled inputs and the sweep file."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 32)).astype(np.float32)
    w2 = rng.standard_normal((32, 4)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "mlp.onnx")
    x = rng.standard_normal((32, 16)).astype(np.float32)
    labels = (np.maximum(x @ w1, 0) @ w2).argmax(1)
    np.savez(tmp_path / "x.npz", x=x, labels=labels)
    (tmp_path / "sweep.toml").write_text(text)
    return tmp_path / "sweep.toml"


def test_points_are_models_x_targets_x_precisions_x_grid(tmp_path):
    sweep = load_sweep(_folder(tmp_path, GRID + '\n[[points]]\n"arrays.ima.count" = 4\n'))
    got = [(p.precision, p.params) for p in sweep.points]
    assert got == [
        ("int8", (("arrays.ima.adc_bits", 6),)),
        ("int8", (("arrays.ima.adc_bits", 8),)),
        ("int8", (("arrays.ima.count", 4),)),
        ("ternary", (("arrays.ima.adc_bits", 6),)),
        ("ternary", (("arrays.ima.adc_bits", 8),)),
        ("ternary", (("arrays.ima.count", 4),)),
    ]
    assert sweep.param_keys == ("arrays.ima.adc_bits", "arrays.ima.count")
    assert len({p.id for p in sweep.points}) == 6
    assert [p.id for p in load_sweep(tmp_path / "sweep.toml").points] == [
        p.id for p in sweep.points
    ]  # ids are stable


@pytest.mark.parametrize(
    "edit, message",
    [
        (('path = "mlp.onnx"', 'path = "../mlp.onnx"'), "leaves the sweep file's folder"),
        (('path = "mlp.onnx"', 'path = "/etc/passwd"'), "must be relative"),
        (('precision = ["int8", "ternary"]', 'precision = "int4"'), "unknown precision 'int4'"),
        (("[grid]", "[grids]"), "unknown key 'grids'"),
        (('name = "tiny"', 'name = "tiny"\nattention = "gpu"'), "unknown placement 'gpu'"),
        (('name = "mlp"', 'nam = "mlp"'), "models[0]: unknown key 'nam'"),
        (("= [6, 8]", "= []"), "grid.arrays.ima.adc_bits is empty"),
        (("= [6, 8]", "= [6, 6]"), "two points are the same"),
        (("[sweep]", "[sweep"), "sweep.toml"),
    ],
)
def test_bad_sweep_files_are_one_clear_error(tmp_path, edit, message, capsys):
    path = _folder(tmp_path, GRID.replace(*edit))
    with pytest.raises(SweepError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_sweep(path)
    assert imcc_main(["sweep", str(path), "-o", str(tmp_path / "r.parquet")]) == 1
    err = capsys.readouterr().err
    assert "imcc sweep: error:" in err and "Traceback" not in err
    assert not (tmp_path / "r.parquet").exists()


def test_usage_errors(tmp_path, capsys):
    path = _folder(tmp_path)
    assert imcc_main(["sweep", str(path), "-o", str(tmp_path / "r.csv")]) == 2
    assert "ends in .parquet" in capsys.readouterr().err
    assert imcc_main(["sweep", str(path), "-o", str(tmp_path / "r.parquet"), "--workers", "0"]) == 2


def test_pareto_front_keeps_the_points_no_other_beats():
    cost = np.array([1.0, 2.0, 3.0, 2.5, 0.5])
    acc = np.array([0.90, 0.95, 0.99, 0.94, 0.80])
    assert front(cost, acc).tolist() == [4, 0, 1, 2]


def _table(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_sweep_runs_every_point_and_resumes_from_its_journal(tmp_path):
    sweep_file = _folder(tmp_path)
    out = tmp_path / "r.parquet"
    assert imcc_main(["sweep", str(sweep_file), "-o", str(out), "--workers", "1"]) == 0
    rows = _table(out)
    assert [r["point"] for r in rows] == [0, 1, 2, 3]
    assert all(r["status"] == "ok" for r in rows), rows
    assert {r["metric"] for r in rows} == {"accuracy"}
    assert all(0.5 <= r["accuracy"] <= 1 and r["cycles"] > 0 and r["energy_uj"] > 0 for r in rows)
    assert (tmp_path / "r.csv").read_text().count("\n") == 5
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    # a second run finds every point in the journal and runs none
    journal = journal_path(out)
    before = journal.read_text()
    assert imcc_main(["sweep", str(sweep_file), "-o", str(out), "--no-plot"]) == 0
    assert journal.read_text() == before
    assert without_timing(_table(out)) == without_timing(rows)


def test_a_killed_sweep_resumes_and_every_point_appears_once(tmp_path):
    sweep_file = _folder(tmp_path)
    out = tmp_path / "r.parquet"
    journal = journal_path(out)
    cmd = [sys.executable, "-m", "imcc.compiler.tools.driver", "sweep", str(sweep_file),
           "-o", str(out), "--workers", "1", "--no-plot"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = journal.read_text().count("\n")
    assert 1 <= finished < 4, "the sweep should be killed half way"
    assert not out.exists()
    with journal.open("a") as f:
        f.write('{"id": "cut short')  # a line the kill interrupted
    assert imcc_main(["sweep", str(sweep_file), "-o", str(out), "--workers", "1"]) == 0
    rows = _table(out)
    assert [r["point"] for r in rows] == [0, 1, 2, 3]
    assert all(r["status"] == "ok" for r in rows)
    recorded = [json.loads(line)["id"] for line in journal.read_text().splitlines()[finished + 1 :]]
    assert len(recorded) == 4 - finished  # only the missing points ran again
    assert len(read_journal(journal, load_sweep(sweep_file))) == 4


def test_failed_points_are_rows_with_their_error(tmp_path):
    text = GRID.replace('"arrays.ima.adc_bits" = [6, 8]', '"arrays.ima.adc_bits" = [8, 99]')
    out = tmp_path / "r.parquet"
    assert imcc_main(["sweep", str(_folder(tmp_path, text)), "-o", str(out), "--workers", "1"]) == 0
    rows = _table(out)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok", "failed"]
    assert all("adc_bits" in r["error"] for r in rows if r["status"] == "failed")
    assert all(r["accuracy"] is None for r in rows if r["status"] == "failed")


def test_a_dask_scheduler_over_loopback_gives_the_local_table(tmp_path):
    from dask.distributed import LocalCluster

    sweep_file = _folder(tmp_path)
    local, remote = tmp_path / "local.parquet", tmp_path / "remote.parquet"
    assert imcc_main(["sweep", str(sweep_file), "-o", str(local), "--no-plot"]) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, processes=True) as cluster:  # fmt: skip
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        code = imcc_main(
            ["sweep", str(sweep_file), "-o", str(remote), "--no-plot",
             "--scheduler", cluster.scheduler_address]
        )  # fmt: skip
    assert code == 0
    assert without_timing(_table(remote)) == without_timing(_table(local))


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, capsys):
    sweep_file = _folder(tmp_path)
    argv = ["sweep", str(sweep_file), "-o", str(tmp_path / "r.parquet"),
            "--scheduler", "tcp://127.0.0.1:9"]  # fmt: skip
    assert imcc_main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert "Traceback" not in err


def test_a_grid_too_large_is_refused_before_it_is_built(tmp_path):
    axes = "\n".join(f'"p{i}" = [{", ".join(map(str, range(100)))}]' for i in range(4))
    path = _folder(tmp_path, GRID.replace('"arrays.ima.adc_bits" = [6, 8]', axes))
    with pytest.raises(SweepError, match=r"the sweep has 200,000,000 points, more than 100,000"):
        load_sweep(path)


def test_hostile_sweep_files(tmp_path):
    path = _folder(tmp_path)
    path.write_bytes(b'[sweep]\nname = "\xff"\n')
    with pytest.raises(SweepError, match="not UTF-8"):
        load_sweep(path)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="not a regular file|FIFO"):
        load_sweep(fifo)
