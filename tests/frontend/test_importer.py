"""The importer: structure of the imported module, input shapes, opsets, external data, errors,
determinism and the text round trip."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from imcc.compiler.dialects.func import FuncOp
from imcc.compiler.frontend.errors import (
    InputShapeError,
    OnnxImportError,
    UnsupportedError,
    UnsupportedOpError,
)
from imcc.compiler.frontend.importer import import_model
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir import NameLoc, parse_module, print_ir, verify
from imcc.compiler.pipelines import pipeline_to
from imcc.compiler.pm import PassManager, parse_pipeline
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(REPO, "models", "digits", "digits_cnn.onnx")
F = TensorProto.FLOAT


@pytest.fixture()
def m(onnx_models):
    """The shared model builders (see conftest.py)."""
    return onnx_models


def _import(model, **kw):
    kw.setdefault("notes", None)
    module = import_model(model, **kw)
    verify(module)
    return module


def _main(module) -> FuncOp:
    return module.body.ops[0]


def test_module_structure(m):
    module = _import(m.add_relu_model())
    assert module.get_attr("onnx.opset") == 17
    func = _main(module)
    assert func.sym_name == "main"
    assert func.get_attr("arg_names") == ["x"]
    assert func.get_attr("result_names") == ["y"]
    ops = func.body.ops
    assert [op.name for op in ops] == ["onnx.Constant", "onnx.Add", "onnx.Relu", "func.return"]
    assert [op.location for op in ops[:3]] == [NameLoc("bias"), NameLoc("add0"), NameLoc("Relu_1")]
    assert ops[0].attributes["value"].hint == "bias"


def test_initializers_listed_as_inputs_are_constants(m):
    model = m.add_relu_model()
    model.graph.input.append(helper.make_tensor_value_info("bias", F, [3]))
    func = _main(_import(model))
    assert func.get_attr("arg_names") == ["x"]
    assert len(func.body.args) == 1


def test_constants_are_numpy_arrays_without_copies(m):
    model = m.conv_model()
    func = _main(_import(model))
    weight = func.body.ops[0].attributes["value"].array
    assert weight.shape == (4, 3, 3, 3) and weight.dtype == np.float32
    assert not weight.flags.writeable
    np.testing.assert_array_equal(weight, numpy_helper.to_array(model.graph.initializer[0]))


def test_every_constant_form_imports_as_one_value(m):
    nodes = [
        helper.make_node("Constant", [], ["a"], value_float=1.5),
        helper.make_node("Constant", [], ["b"], value_ints=[1, 2]),
        helper.make_node(
            "Constant", [], ["c"], value=numpy_helper.from_array(np.eye(2, dtype=np.float32))
        ),
        helper.make_node("Cast", ["b"], ["bf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["a", "bf"], ["s"]),
        helper.make_node("MatMul", ["c", "x"], ["y0"]),
        helper.make_node("Add", ["y0", "s"], ["y"]),
    ]
    model = m.make_model(nodes, [("x", F, [2, 2])], [("y", F, [2, 2])])
    module = _import(model)
    assert {op.name for op in _main(module).body.ops} >= {"onnx.Constant", "onnx.Cast"}
    x = np.arange(4, dtype=np.float32).reshape(2, 2)
    np.testing.assert_allclose(
        run_module(module, [x]).as_list()[0], x + np.array([2.5, 3.5], np.float32)
    )


def test_absent_optional_inputs_share_one_novalue(m):
    nodes = [
        helper.make_node("Clip", ["x"], ["c"]),
        helper.make_node("Clip", ["c", "", "hi"], ["y"]),
    ]
    hi = numpy_helper.from_array(np.array(1.0, np.float32), "hi")
    func = _main(_import(m.make_model(nodes, [("x", F, [3])], [("y", F, [3])], [hi])))
    novalues = [op for op in func.body.ops if op.name == "onnx.NoValue"]
    assert len(novalues) == 1
    clips = [op for op in func.body.ops if op.name == "onnx.Clip"]
    assert [len(op.operands) for op in clips] == [3, 3]
    assert clips[1].operand("min") is None and clips[1].operand("max") is not None


# -- input shapes -------------------------------------------------------------------------------------


def test_leading_symbolic_dimension_defaults_to_one_with_a_note(m):
    notes = []
    func = _main(_import(m.add_relu_model(), notes=notes.append))
    assert str(func.body.args[0].type) == "tensor<1x3xf32>"
    assert (
        len(notes) == 1 and "'x'" in notes[0] and "'N'" in notes[0] and "batch size 1" in notes[0]
    )


def test_input_shapes_pin_and_bind_symbols_everywhere(m):
    nodes = [helper.make_node("Add", ["a", "b"], ["y"])]
    model = m.make_model(
        nodes, [("a", F, ["B", "S"]), ("b", F, ["B", "S"])], [("y", F, ["B", "S"])]
    )
    notes = []
    func = _main(_import(model, input_shapes={"a": (2, 5)}, notes=notes.append))
    assert [str(a.type) for a in func.body.args] == ["tensor<2x5xf32>", "tensor<2x5xf32>"]
    assert str(func.function_type.results[0]) == "tensor<2x5xf32>"
    assert notes == []


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ({"nope": (1, 3)}, r"unknown input\(s\) \['nope'\]; the model's inputs: x"),
        ({"x": (1, 3, 1)}, "has rank 2, but the given shape"),
        ({"x": (-1, 3)}, "negative dimension"),
        ({"x": (2, 4)}, "has size 3 in dimension 1, but the given shape says 4"),
    ],
)
def test_bad_input_shapes(shapes, message, m):
    with pytest.raises(InputShapeError, match=message):
        _import(m.add_relu_model(), input_shapes=shapes)


def test_unknown_dimensions_stay_dynamic(m):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    model = m.make_model(nodes, [("x", F, [2, "S"])], [("y", F, [2, "S"])])
    module = _import(model)
    assert str(_main(module).body.args[0].type) == "tensor<2x?xf32>"
    out = run_module(module, [np.full((2, 7), -1.0, np.float32)]).as_list()[0]
    assert out.shape == (2, 7) and not out.any()


def test_ranks_that_onnx_inference_misses_are_recovered(m):
    # Range over computed bounds feeds ReduceMean's axes: ONNX inference loses the rank there.
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Size", ["shape"], ["rank"]),
        helper.make_node(
            "Constant", [], ["one"], value=numpy_helper.from_array(np.array(1, np.int64))
        ),
        helper.make_node("Range", ["one", "rank", "one"], ["axes"]),
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0),
        helper.make_node("Relu", ["m"], ["y"]),
    ]
    model = m.make_model(nodes, [("x", F, [2, 3, 4])], [("y", F, ["D"])], opset=18)
    module = _import(model)
    assert str(_main(module).function_type.results[0]) == "tensor<2xf32>"
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(
        run_module(module, [x]).as_list()[0], np.maximum(x.mean(axis=(1, 2)), 0), rtol=1e-6
    )


# -- opsets -------------------------------------------------------------------------------------------


def test_old_opsets_are_converted_to_9(m):
    notes = []
    module = _import(m.add_relu_model(opset=8), notes=notes.append)
    assert module.get_attr("onnx.opset") == 9
    assert any("converted the model from opset 8 to opset 9" in n for n in notes)


def test_failed_conversion_keeps_a_supported_old_opset(monkeypatch, m):
    def fail(model, target):
        raise RuntimeError("no adapter")

    monkeypatch.setattr(onnx.version_converter, "convert_version", fail)
    notes = []
    module = _import(m.add_relu_model(opset=8), notes=notes.append)
    assert module.get_attr("onnx.opset") == 8
    assert any("no adapter" in n and "importing it at opset 8" in n for n in notes)
    with pytest.raises(UnsupportedError, match="opset 5 is older than 7"):
        _import(m.add_relu_model(opset=5))


def test_opset_newer_than_onnx_knows(m):
    with pytest.raises(UnsupportedError, match="newer than the newest"):
        _import(m.add_relu_model(opset=99))


# -- unsupported models -------------------------------------------------------------------------------


def test_unsupported_op_names_op_node_and_opset(m):
    with pytest.raises(UnsupportedOpError) as info:
        _import(m.unsupported_model())
    err = info.value
    assert (err.op_type, err.node_name, err.opset) == ("Einsum", "contract", 13)
    assert "unsupported ONNX op 'Einsum' (node 'contract', opset 13)" in err.render()


def test_custom_domain_and_control_flow_are_refused(m):
    custom = m.make_model(
        [helper.make_node("Frob", ["x"], ["y"], domain="com.example")],
        [("x", F, [2])],
        [("y", F, [2])],
        domains=["com.example"],
    )
    with pytest.raises(UnsupportedOpError, match="custom domain 'com.example'"):
        _import(custom)
    branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["o"])],
        "b",
        [],
        [helper.make_tensor_value_info("o", F, [2])],
    )
    cond = numpy_helper.from_array(np.array(True), "cond")
    control = m.make_model(
        [
            helper.make_node(
                "If", ["cond"], ["y"], then_branch=branch, else_branch=branch, name="branchy"
            )
        ],
        [("x", F, [2])],
        [("y", F, [2])],
        [cond],
    )
    with pytest.raises(
        UnsupportedOpError, match=r"'If' \(node 'branchy', opset 17\): control flow"
    ):
        _import(control)


def test_unsupported_element_type(m):
    model = m.make_model(
        [helper.make_node("Identity", ["x"], ["y"])],
        [("x", TensorProto.STRING, [2])],
        [("y", TensorProto.STRING, [2])],
    )
    with pytest.raises(UnsupportedError, match="element type STRING"):
        _import(model)


# -- broken models ------------------------------------------------------------------------------------


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_text("this is not a model\n")
    with pytest.raises(OnnxImportError, match="model.onnx: error: not an ONNX model"):
        _import(str(path))


def test_truncated_model(tmp_path):
    data = open(DIGITS, "rb").read()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxImportError, match="cut.onnx: error: not an ONNX model"):
        _import(str(path))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(OnnxImportError, match="no such file"):
        _import(str(tmp_path / "absent.onnx"))
    with pytest.raises(OnnxImportError, match="is a directory"):
        _import(str(tmp_path))


def test_invalid_graph_is_reported_by_the_checker(m):
    model = m.make_model(
        [helper.make_node("Relu", ["missing"], ["y"])], [("x", F, [2])], [("y", F, [2])]
    )
    with pytest.raises(OnnxImportError, match="invalid ONNX model"):
        _import(model)


# -- external data ------------------------------------------------------------------------------------


def _external_model(folder, location, values, m):
    """A model whose initializer 'w' lives in an external file at ``location``."""
    w = numpy_helper.from_array(values, "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(values.nbytes))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    model = m.make_model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [("x", F, [4])], [("y", F, [4])], [w]
    )
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def test_external_data_inside_the_folder(tmp_path, m):
    values = np.arange(4, dtype=np.float32)
    (tmp_path / "weights.bin").write_bytes(values.tobytes())
    module = _import(_external_model(str(tmp_path), "weights.bin", values, m))
    out = run_module(module, [np.ones(4, np.float32)]).as_list()[0]
    np.testing.assert_array_equal(out, values + 1)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("../secret.bin", r"leaves the model's folder \('..'\)"),
        ("sub/../../secret.bin", r"leaves the model's folder \('..'\)"),
        ("link.bin", "resolves outside the model's folder"),
        ("absent.bin", "does not exist"),
    ],
)
def test_external_data_escaping_the_folder_is_refused(tmp_path, location, message, m):
    folder = tmp_path / "model"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.zeros(4, np.float32).tobytes())
    os.symlink(secret, folder / "link.bin")
    path = _external_model(str(folder), location, np.zeros(4, np.float32), m)
    with pytest.raises(OnnxImportError, match=message):
        _import(path)


def test_external_data_needs_a_folder(tmp_path, m):
    path = _external_model(str(tmp_path), "weights.bin", np.zeros(4, np.float32), m)
    with pytest.raises(OnnxImportError, match="not loaded from a file"):
        _import(open(path, "rb").read())


# -- determinism and round trip -----------------------------------------------------------------------


def _bundled(name, m):
    import glob

    from models.cnn import zoo

    if name == "oldnet":
        return zoo.build_oldnet()
    if name == "conv":
        return m.conv_model()
    if name == "add_relu":
        return m.add_relu_model()
    return glob.glob(os.path.join(REPO, "models", "*", name))[0]


BUNDLED = [
    "digits_cnn.onnx",
    "digits_mbv2.onnx",
    "tiny_bert_opset14.onnx",
    "tiny_bert_opset17.onnx",
]


@pytest.mark.parametrize("source", [*BUNDLED, "oldnet", "conv"])
def test_two_imports_print_byte_identical_text(source, m):
    model = _bundled(source, m)
    first = print_ir(_import(model), debuginfo=True)
    second = print_ir(_import(model), debuginfo=True)
    assert first == second


@pytest.mark.parametrize("source", [*BUNDLED, "oldnet", "conv", "add_relu"])
def test_imported_ir_round_trips(source, m):
    """print -> parse -> print is the identity, with and without locations, before and after the
    onnx level's passes."""
    module = _import(_bundled(source, m))
    for stage in ("imported", "canonicalized"):
        if stage == "canonicalized":
            PassManager(parse_pipeline(pipeline_to("onnx"))).run(module)
        for debuginfo in (False, True):
            text = print_ir(module, debuginfo=debuginfo)
            again = parse_module(text)
            verify(again)
            assert print_ir(again, debuginfo=debuginfo) == text


def test_import_is_deterministic_across_processes(tmp_path):
    """Byte-identical output whatever the hash seed (no set or id order leaks into the text)."""
    import subprocess
    import sys

    path = os.path.join(REPO, "models", "digits", "digits_mbv2.onnx")
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}.mlir"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        cmd = [
            sys.executable,
            "-m",
            "imcc.compiler.tools.driver",
            path,
            "--emit=onnx",
            "--print-debuginfo",
            "-o",
            str(out),
        ]
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
