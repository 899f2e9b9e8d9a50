"""The onnx dialect: generated op classes, version-aware verification, folding, canonicalization."""

from __future__ import annotations

import imcc.compiler.passes  # noqa: F401  (registers the passes)
import numpy as np
import pytest
from imcc.compiler.dialects import onnx as dialect
from imcc.compiler.dialects.func import FuncOp, ReturnOp
from imcc.compiler.ir import (
    Block,
    DenseElementsAttr,
    IntegerAttr,
    ModuleOp,
    VerificationError,
    parse_module,
    print_ir,
    verify,
)
from imcc.compiler.ir.ops import Pure
from imcc.compiler.ir.types import f32, i64, none, tensor
from imcc.compiler.pm import PassManager, parse_pipeline
from imcc.runtime.kernels.onnx import KERNELS


def test_every_kernel_op_has_a_class():
    assert set(dialect.ONNX_OPS) == set(KERNELS)
    for op_type, cls in dialect.ONNX_OPS.items():
        assert cls.name == f"onnx.{op_type}"
        assert cls.__doc__ and "Example:" in cls.__doc__, op_type


def test_purity_follows_onnx_semantics():
    impure = {t for t, cls in dialect.ONNX_OPS.items() if not cls.has_trait(Pure)}
    assert impure == set(dialect.IMPURE) == {"Dropout"}
    assert dialect.NoValueOp.has_trait(Pure)


@pytest.mark.parametrize("op_type", sorted(set(KERNELS) - {"Constant"}))
def test_docstring_example_parses(op_type):
    """Each generated example is valid generic syntax whose operand types declare themselves."""
    example = dialect.ONNX_OPS[op_type].__doc__.split("Example:")[1].strip()
    operand_part = example.split('"(', 1)[1].split(")", 1)[0]
    names = [n.strip() for n in operand_part.split(",") if n.strip()]
    types = example.rsplit(" : (", 1)[1].split(") -> ", 1)[0].split(", ")
    args = ", ".join(f"{n}: {t}" for n, t in zip(names, types))
    text = f'"test.wrap"() ({{\n^bb0({args}):\n  {example}\n}}) : () -> ()\n'
    module = parse_module(text, allow_unregistered=True)
    op = module.body.ops[0].regions[0].blocks[0].ops[0]
    assert op.name == f"onnx.{op_type}"


def _module(opset: int | None, build) -> ModuleOp:
    """A module with one function whose body ``build(block)`` fills; returns the module."""
    func = FuncOp.build("main", [tensor((2, 3), f32)], [])
    block = func.body
    values = build(block)
    block.append(ReturnOp.create(values))
    func.update_function_type()
    module = ModuleOp.build([func])
    if opset is not None:
        dialect.set_module_opset(module, opset)
    return module


def _no_value(block: Block):
    return block.append(dialect.NoValueOp.create(result_types=[none])).results[0]


def _const(block: Block, array) -> object:
    return block.append(
        dialect.ConstantOp.build(DenseElementsAttr.from_array(np.asarray(array)), _loc())
    ).results[0]


def _loc():
    from imcc.compiler.ir import NameLoc

    return NameLoc("c")


def test_squeeze_operands_follow_the_opset():
    def with_axes(block):
        axes = _const(block, np.array([0], np.int64))
        op = dialect.ONNX_OPS["Unsqueeze"].create([block.args[0], axes], [tensor((1, 2, 3), f32)])
        return [block.append(op).results[0]]

    verify(_module(13, with_axes))  # axes is an input from opset 13
    with pytest.raises(VerificationError, match=r"'onnx.Unsqueeze' \(opset 11\) expects 1 operand"):
        verify(_module(11, with_axes))


def test_attributes_follow_the_opset():
    def with_attr(block):
        op = dialect.ONNX_OPS["Unsqueeze"].create(
            [block.args[0]], [tensor((1, 2, 3), f32)], {"axes": dialect.to_attribute([0], 7)}
        )
        return [block.append(op).results[0]]

    verify(_module(11, with_attr))
    with pytest.raises(VerificationError, match="expects 2 operand"):
        verify(_module(13, with_attr))


def test_unknown_attribute_and_wrong_kind():
    def relu(attrs):
        def build(block):
            op = dialect.ONNX_OPS["Relu"].create([block.args[0]], [tensor((2, 3), f32)], attrs)
            return [block.append(op).results[0]]

        return build

    with pytest.raises(VerificationError, match="unknown attribute 'alpha'"):
        verify(_module(17, relu({"alpha": IntegerAttr(1)})))

    def softmax(block):
        op = dialect.ONNX_OPS["Softmax"].create(
            [block.args[0]], [tensor((2, 3), f32)], {"axis": dialect.to_attribute(1.0, 1)}
        )
        return [block.append(op).results[0]]

    with pytest.raises(
        VerificationError, match="attribute 'axis' must be IntegerAttr, got FloatAttr"
    ):
        verify(_module(17, softmax))
    # A discardable attribute (with a dot) added by a pass is always allowed.
    verify(_module(17, relu({"imc.tile": IntegerAttr(1)})))


def test_element_types_and_type_variables():
    def add(lhs_type):
        def build(block):
            other = _const(block, np.zeros((3,), lhs_type))
            op = dialect.ONNX_OPS["Add"].create([block.args[0], other], [tensor((2, 3), f32)])
            return [block.append(op).results[0]]

        return build

    verify(_module(17, add(np.float32)))
    with pytest.raises(VerificationError, match="type variable T is already f32"):
        verify(_module(17, add(np.float64)))

    def bad_element(block):
        op = dialect.ONNX_OPS["Not"].create([block.args[0]], [tensor((2, 3), f32)])
        return [block.append(op).results[0]]

    with pytest.raises(VerificationError, match="has element type f32; allowed: i1"):
        verify(_module(17, bad_element))


def test_required_operand_cannot_be_absent():
    def build(block):
        op = dialect.ONNX_OPS["Add"].create(
            [block.args[0], _no_value(block)], [tensor((2, 3), f32)]
        )
        return [block.append(op).results[0]]

    with pytest.raises(VerificationError, match="operand #1 \\('B'\\) is required but absent"):
        verify(_module(17, build))


def test_op_missing_at_the_opset():
    def build(block):
        op = dialect.ONNX_OPS["Gelu"].create([block.args[0]], [tensor((2, 3), f32)])
        return [block.append(op).results[0]]

    verify(_module(20, build))
    with pytest.raises(VerificationError, match="does not exist at opset 17"):
        verify(_module(17, build))


def test_constant_value_must_match_its_type():
    def build(block):
        value = DenseElementsAttr.from_array(np.zeros(3, np.float32))
        op = dialect.ConstantOp.create(
            result_types=[tensor((4,), f32)], attributes={"value": value}
        )
        return [block.append(op).results[0]]

    with pytest.raises(VerificationError, match="does not match result type"):
        verify(_module(17, build))


def test_module_opset_defaults_to_newest():
    module = _module(None, lambda block: [block.args[0]])
    assert dialect.module_opset(module) == dialect.NEWEST_OPSET
    dialect.set_module_opset(module, 13)
    assert dialect.module_opset(module.body.ops[0]) == 13


def _canonicalize(module):
    PassManager(parse_pipeline("canonicalize")).run(module)
    return [op.name for op in module.body.ops[0].body.ops]


def test_constant_operands_fold_through_kernels():
    def build(block):
        a = _const(block, np.array([1.0, 2.0], np.float32))
        b = _const(block, np.array([10.0, 20.0], np.float32))
        add = block.append(dialect.ONNX_OPS["Add"].create([a, b], [tensor((2,), f32)]))
        return [
            block.append(
                dialect.ONNX_OPS["Neg"].create([add.results[0]], [tensor((2,), f32)])
            ).results[0]
        ]

    module = _module(17, build)
    assert _canonicalize(module) == ["onnx.Constant", "func.return"]
    const = module.body.ops[0].body.ops[0]
    np.testing.assert_array_equal(const.attributes["value"].array, [-11.0, -22.0])


def test_shape_of_a_static_tensor_folds():
    def build(block):
        return [
            block.append(
                dialect.ONNX_OPS["Shape"].create([block.args[0]], [tensor((2,), i64)])
            ).results[0]
        ]

    module = _module(17, build)
    assert _canonicalize(module) == ["onnx.Constant", "func.return"]
    np.testing.assert_array_equal(module.body.ops[0].body.ops[0].attributes["value"].array, [2, 3])


def test_dynamic_operands_do_not_fold():
    def build(block):
        return [
            block.append(
                dialect.ONNX_OPS["Relu"].create([block.args[0]], [tensor((2, 3), f32)])
            ).results[0]
        ]

    assert _canonicalize(_module(17, build)) == ["onnx.Relu", "func.return"]


@pytest.mark.parametrize("op_type", ["Identity", "Dropout", "Cast", "Reshape"])
def test_noop_patterns(op_type):
    def build(block):
        x = block.args[0]
        if op_type == "Identity":
            op = dialect.ONNX_OPS["Identity"].create([x], [x.type])
        elif op_type == "Dropout":
            nv = _no_value(block)
            op = dialect.ONNX_OPS["Dropout"].create([x, nv, nv], [x.type, none])
        elif op_type == "Cast":
            op = dialect.ONNX_OPS["Cast"].create(
                [x], [x.type], {"to": IntegerAttr(1), "saturate": IntegerAttr(1)}
            )
        else:
            shape = _const(block, np.array([2, 3], np.int64))
            op = dialect.ONNX_OPS["Reshape"].create(
                [x, shape], [x.type], {"allowzero": IntegerAttr(0)}
            )
        return [block.append(op).results[0]]

    module = _module(19, build)
    verify(module)
    assert _canonicalize(module) == ["func.return"]


def test_training_dropout_stays():
    def build(block):
        x = block.args[0]
        ratio = _const(block, np.array(0.5, np.float32))
        mode = _const(block, np.array(True))
        op = dialect.ONNX_OPS["Dropout"].create([x, ratio, mode], [x.type, none])
        return [block.append(op).results[0]]

    assert "onnx.Dropout" in _canonicalize(_module(17, build))


def test_printed_ops_parse_back():
    def build(block):
        nv = _no_value(block)
        clip = dialect.ONNX_OPS["Clip"].create([block.args[0], nv, nv], [tensor((2, 3), f32)])
        return [block.append(clip).results[0]]

    text = print_ir(_module(17, build))
    again = parse_module(text)
    verify(again)
    assert print_ir(again) == text
