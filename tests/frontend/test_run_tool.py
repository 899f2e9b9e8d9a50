"""imcc-run: inputs by name or position from .npy/.npz/.pb, validation before running, atomic
all-or-nothing outputs, and the hand-off of .bin programs to the runtime."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from imcc.compiler.frontend.importer import import_model
from imcc.compiler.ir import print_ir
from imcc.runtime.fileio import output_file_names
from onnx import helper, numpy_helper

from imcc.tools import run as run_tool


@pytest.fixture()
def two_input_module(tmp_path, onnx_models):
    """An IR file computing sum = a + b and prod/x = a * b (an output name with a slash)."""
    F = onnx_models.F
    model = onnx_models.make_model(
        [
            helper.make_node("Add", ["a", "b"], ["sum"]),
            helper.make_node("Mul", ["a", "b"], ["prod/x"]),
        ],
        [("a", F, [2, 3]), ("b", F, [2, 3])],
        [("sum", F, [2, 3]), ("prod/x", F, [2, 3])],
    )
    path = tmp_path / "m.mlir"
    path.write_text(print_ir(import_model(model, notes=None)))
    return str(path)


def _arrays():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(
        np.float32
    )


def test_named_npy_inputs_and_outputs(tmp_path, two_input_module, capsys):
    a, b = _arrays()
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out = tmp_path / "out"
    out.mkdir()
    argv = [
        two_input_module,
        "--input",
        f"b={tmp_path / 'b.npy'}",
        "--input",
        f"a={tmp_path / 'a.npy'}",
    ]
    assert run_tool.main([*argv, "--output-dir", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["prod_x.npy", "sum.npy"]
    np.testing.assert_array_equal(np.load(out / "sum.npy"), a + b)
    np.testing.assert_array_equal(np.load(out / "prod_x.npy"), a * b)


def test_positional_npz_and_tensorproto_inputs(tmp_path, two_input_module, capsys):
    a, b = _arrays()
    np.save(tmp_path / "a.npy", a)
    (tmp_path / "b.pb").write_bytes(numpy_helper.from_array(b, "b").SerializeToString())
    assert (
        run_tool.main(
            [
                two_input_module,
                "--input",
                str(tmp_path / "a.npy"),
                "--input",
                str(tmp_path / "b.pb"),
            ]
        )
        == 0
    )
    assert "sum: float32 [2, 3]" in capsys.readouterr().out
    np.savez(tmp_path / "both.npz", a=a, b=b)
    out = tmp_path / "o"
    out.mkdir()
    assert (
        run_tool.main(
            [two_input_module, "--input", str(tmp_path / "both.npz"), "--output-dir", str(out)]
        )
        == 0
    )
    np.testing.assert_array_equal(np.load(out / "sum.npy"), a + b)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"a": np.zeros((2, 3), np.float64), "b": np.zeros((2, 3), np.float32)},
            "input 'a' has element type float64",
        ),
        (
            {"a": np.zeros((3, 2), np.float32), "b": np.zeros((2, 3), np.float32)},
            "input 'a' has shape [3, 2]",
        ),
        ({"a": np.zeros((2, 3), np.float32)}, "missing input(s) ['b']"),
        (
            {
                "a": np.zeros((2, 3), np.float32),
                "b": np.zeros((2, 3), np.float32),
                "c": np.zeros(1),
            },
            "unknown input(s) ['c']",
        ),
    ],
)
def test_inputs_are_validated_before_running(tmp_path, two_input_module, capsys, inputs, message):
    argv = [two_input_module]
    for name, array in inputs.items():
        np.save(tmp_path / f"{name}.npy", array)
        argv += ["--input", f"{name}={tmp_path / (name + '.npy')}"]
    out = tmp_path / "out"
    out.mkdir()
    assert run_tool.main([*argv, "--output-dir", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert os.listdir(out) == []


def test_pickled_npy_is_refused(tmp_path, two_input_module, capsys):
    np.save(tmp_path / "a.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    assert run_tool.main([two_input_module, "--input", f"a={tmp_path / 'a.npy'}"]) == 1
    assert "not a readable array file" in capsys.readouterr().err


def test_outputs_are_all_or_nothing(tmp_path, monkeypatch):
    calls = []
    real_save = np.save

    def failing_save(f, array, allow_pickle=False):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        real_save(f, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        run_tool.write_outputs(str(tmp_path), {"x": np.zeros(2), "y": np.ones(2)})
    assert os.listdir(tmp_path) == []


def test_output_file_names_are_safe_and_unique():
    assert output_file_names(["a/b", "a:b", "..", "ok"]) == [
        "a_b.npy",
        "a_b_1.npy",
        "output.npy",
        "ok.npy",
    ]


def test_onnx_models_run_directly(tmp_path, capsys, onnx_models):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    assert run_tool.main([onnx_models.digits, "--input", str(tmp_path / "x.npy")]) == 0
    assert "logits: float32 [1, 10]" in capsys.readouterr().out


def test_output_dir_is_created_and_a_missing_file_refused(tmp_path, two_input_module, capsys):
    (tmp_path / "file").write_text("x")
    assert run_tool.main([two_input_module, "--output-dir", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert run_tool.main([str(tmp_path / "absent.mlir")]) == 1


def test_binaries_go_to_the_runtime_runner(tmp_path, capsys):
    (tmp_path / "prog.bin").write_bytes(b"\x00not a program")
    code = run_tool.main([str(tmp_path / "prog.bin")])
    err = capsys.readouterr().err
    if importlib.util.find_spec("imcc.runtime.tools.run") is None:
        assert code == 2 and "needs the runtime's runner (imcc.runtime.tools.run)" in err
    else:  # the runtime's runner read it and refused it with its own one-line error
        assert code == 1 and err.startswith("error:") and "prog.bin" in err


def test_inputs_follow_the_shared_loader_rules(tmp_path, two_input_module, capsys):
    # the runtime's loader (imcc.runtime.inputs), as for binaries: suffixes in any case,
    # NAME=FILE.npz for one-array files, its errors as one line with exit code 1
    a, b = _arrays()
    with open(tmp_path / "A.NPY", "wb") as f:
        np.save(f, a)
    np.savez(tmp_path / "b.npz", anything=b)
    argv = [two_input_module, "--input", str(tmp_path / "A.NPY"), "--input"]
    assert run_tool.main([*argv, f"b={tmp_path / 'b.npz'}"]) == 0
    assert "sum: float32 [2, 3]" in capsys.readouterr().out
    np.savez(tmp_path / "two.npz", a=a, b=b)
    assert run_tool.main([*argv, f"b={tmp_path / 'two.npz'}"]) == 1
    assert "a named input needs a file with one array" in capsys.readouterr().err
    (tmp_path / "b.txt").write_text("1")
    assert run_tool.main([*argv, str(tmp_path / "b.txt")]) == 1
    assert "unknown input format" in capsys.readouterr().err
