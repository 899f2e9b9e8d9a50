"""The one input loader of imcc-run (runtime/inputs.py): items, suffixes, names, errors."""

from __future__ import annotations

import numpy as np
import pytest
from imcc.runtime.inputs import (
    InputFileError,
    assign_inputs,
    load_inputs,
    read_array_file,
    read_inputs,
    split_item,
)
from onnx import numpy_helper

A = np.arange(6, dtype=np.float32).reshape(2, 3)
B = np.ones(4, dtype=np.int8)


@pytest.fixture
def files(tmp_path):
    """x.npy, X.NPY, both.npz (a, b), one.npz (a), named.pb (name 'b'), anon.pb (no name)."""
    np.save(tmp_path / "x.npy", A)
    with open(tmp_path / "X.NPY", "wb") as f:
        np.save(f, A)
    np.savez(tmp_path / "both.npz", a=A, b=B)
    np.savez(tmp_path / "one.npz", a=A)
    (tmp_path / "named.pb").write_bytes(numpy_helper.from_array(B, "b").SerializeToString())
    (tmp_path / "anon.pb").write_bytes(numpy_helper.from_array(B).SerializeToString())
    return tmp_path


def test_name_equals_file_or_bare_file(files):
    assert split_item("x=a.npy") == ("x", "a.npy")
    assert split_item("a.npy") == (None, "a.npy")
    assert split_item("x=dir/a=b.npy") == ("x", "dir/a=b.npy")  # split at the first '='
    assert split_item("input:0=a.npy") == ("input:0", "a.npy")  # names are the caller's business
    odd = files / "k=v.npy"  # an existing file wins over a split at '='
    np.save(odd, A)
    assert split_item(str(odd)) == (None, str(odd))


@pytest.mark.parametrize(
    ("item", "message"),
    [("=x.npy", "no input name before '='"), ("x=", "no file after '='"), ("", "empty --input")],
)
def test_bad_names_are_refused(item, message):
    with pytest.raises(InputFileError, match=message):
        split_item(item)


@pytest.mark.parametrize("name", ["X.NPY", "x.npy"])
def test_suffixes_in_any_case(files, name):
    ((key, array),) = read_array_file(str(files / name)).items()
    assert key is None and np.array_equal(array, A)


def test_suffix_case_for_npz_and_pb(files):
    (files / "both.npz").rename(files / "BOTH.NPZ")
    (files / "named.pb").rename(files / "named.Pb")
    assert sorted(read_array_file(str(files / "BOTH.NPZ"))) == ["a", "b"]
    assert list(read_array_file(str(files / "named.Pb"))) == ["b"]


def test_npz_entries_and_pb_names(files):
    named, unnamed = read_inputs([str(files / "both.npz"), str(files / "anon.pb")])
    assert sorted(named) == ["a", "b"] and np.array_equal(named["b"], B)
    assert [(path.endswith("anon.pb"), a.dtype) for path, a in unnamed] == [(True, np.int8)]
    named, unnamed = read_inputs([str(files / "named.pb")])
    assert list(named) == ["b"] and unnamed == []


def test_a_name_renames_a_single_array_file(files):
    named, _ = read_inputs([f"y={files / 'one.npz'}", f"z={files / 'named.pb'}"])
    assert sorted(named) == ["y", "z"] and np.array_equal(named["y"], A)


def test_a_name_needs_a_single_array_file(files):
    with pytest.raises(InputFileError, match="a named input needs a file with one array.*holds 2"):
        read_inputs([f"y={files / 'both.npz'}"])


def test_a_name_given_twice(files):
    with pytest.raises(InputFileError, match="input 'a' is given twice"):
        read_inputs([f"a={files / 'x.npy'}", str(files / "one.npz")])


@pytest.mark.parametrize("item", ["missing.npy", "x=missing.npy", "x=missing.txt"])
def test_missing_files(files, item, monkeypatch):
    monkeypatch.chdir(files)
    with pytest.raises(InputFileError, match=r"^missing\.\w+: cannot read: no such file"):
        read_inputs([item])


def test_a_folder_is_not_a_file(files):
    (files / "d.npy").mkdir()
    with pytest.raises(InputFileError, match="cannot read: is a folder"):
        read_array_file(str(files / "d.npy"))


@pytest.mark.parametrize("name", ["x.txt", "x.npy.gz", "x"])
def test_unknown_suffixes(files, name):
    (files / name).write_bytes(b"\x93NUMPY")
    with pytest.raises(
        InputFileError, match=r"unknown input format \(expected .npy, .npz or .pb\)"
    ):
        read_array_file(str(files / name))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bad.npy", b"not numpy", "not a readable array file"),
        ("bad.npz", b"PK\x03\x04 broken zip", "not a readable array file"),
        ("bad.pb", b"\xff\xff\xff", "not an ONNX TensorProto"),
    ],
)
def test_unreadable_files(files, name, data, message):
    (files / name).write_bytes(data)
    with pytest.raises(InputFileError, match=message):
        read_array_file(str(files / name))


def test_nothing_is_unpickled(files):
    np.save(files / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputFileError, match="not a readable array file"):
        read_array_file(str(files / "obj.npy"))


def test_unnamed_arrays_fill_the_free_inputs_in_order(files):
    inputs = load_inputs([str(files / "anon.pb"), f"b={files / 'x.npy'}"], ["a", "b", "c"])
    assert list(inputs) == ["b", "a"] and inputs["a"].dtype == np.int8
    named, unnamed = read_inputs([str(files / "x.npy")] * 3)
    with pytest.raises(
        InputFileError, match=r"x\.npy: more input files than model inputs \(p, q\)"
    ):
        assign_inputs(["p", "q"], named, unnamed, owner="model")


def test_unknown_and_missing_names_are_left_to_the_caller(files):
    assert list(load_inputs([f"nope={files / 'x.npy'}"], ["a", "b"])) == ["nope"]
