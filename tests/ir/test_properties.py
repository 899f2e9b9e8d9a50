"""Property tests: random well-formed IR prints and parses back identically."""

from __future__ import annotations

import imcc.compiler.dialects  # noqa: F401
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imcc.compiler.ir import parse_module, print_ir
from imcc.compiler.ir.attributes import (
    ArrayAttr,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnitAttr,
)
from imcc.compiler.ir.core import Block, Operation, Region
from imcc.compiler.ir.types import (
    DialectType,
    FloatType,
    IntegerType,
    RankedTensorType,
    f16,
    f32,
    f64,
    i1,
    i8,
    i32,
    i64,
    index,
)

scalar_types = st.sampled_from([f32, f16, f64, i1, i8, i32, i64, index, IntegerType(8, True)])
dims = st.lists(st.one_of(st.none(), st.integers(0, 5)), max_size=4).map(tuple)
tensor_types = st.builds(RankedTensorType, dims, scalar_types)
dialect_types = st.builds(
    DialectType,
    st.sampled_from(["imc", "quant"]),
    st.sampled_from(["tile", "buf"]),
    st.one_of(st.none(), st.sampled_from(["3x4", "a<b>", "f32, 2"])),
)
types = st.one_of(scalar_types, tensor_types, dialect_types)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
f32_values = st.floats(width=32, allow_nan=True, allow_infinity=True)


def _dense(draw_shape, dtype):
    return st.builds(
        lambda shape, seed: DenseElementsAttr.from_array(
            np.random.default_rng(seed).integers(-100, 100, size=shape).astype(dtype) / 4
            if np.dtype(dtype).kind == "f"
            else np.random.default_rng(seed).integers(-100, 100, size=shape).astype(dtype)
        ),
        draw_shape,
        st.integers(0, 2**16),
    )


dense_attrs = st.one_of(
    _dense(st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple), np.float32),
    _dense(st.lists(st.integers(1, 6), min_size=1, max_size=2).map(tuple), np.int64),
    _dense(st.lists(st.integers(1, 40), min_size=1, max_size=1).map(tuple), np.int8),
)
leaf_attrs = st.one_of(
    st.builds(IntegerAttr, st.integers(-(2**63), 2**63 - 1)),
    st.builds(IntegerAttr, st.integers(-(2**31), 2**31 - 1), st.just(i32)),
    st.builds(FloatAttr, f32_values),
    st.builds(FloatAttr, st.floats(allow_nan=False), st.just(f64)),
    st.builds(BoolAttr, st.booleans()),
    st.builds(StringAttr, text),
    st.just(UnitAttr()),
    st.builds(TypeAttr, types),
    st.builds(SymbolRefAttr, names),
    st.builds(DenseArrayAttr, st.just(i64), st.lists(st.integers(-50, 50), max_size=4).map(tuple)),
    dense_attrs,
)
attributes = st.recursive(
    leaf_attrs,
    lambda inner: st.one_of(
        st.builds(ArrayAttr, st.lists(inner, max_size=3).map(tuple)),
        st.builds(
            DictAttr, st.dictionaries(names, inner, max_size=3).map(lambda d: tuple(d.items()))
        ),
    ),
    max_leaves=6,
)


@st.composite
def functions(draw):
    """A func.func with random ops of unregistered names, using earlier values as operands."""
    arg_types = draw(st.lists(types, max_size=3))
    block = Block(arg_types)
    values = list(block.args)
    for _ in range(draw(st.integers(0, 6))):
        operands = draw(st.lists(st.sampled_from(values), max_size=3)) if values else []
        result_types = draw(st.lists(types, max_size=2))
        attrs = draw(st.dictionaries(names, attributes, max_size=3))
        op = Operation(operands, result_types, attrs, name="t." + draw(names))
        block.append(op)
        values.extend(op.results)
    rets = draw(st.lists(st.sampled_from(values), max_size=2)) if values else []
    block.append(Operation(rets, [], {}, name="func.return"))
    from imcc.compiler.dialects.func import FuncOp
    from imcc.compiler.ir.attributes import StringAttr as S
    from imcc.compiler.ir.types import FunctionType

    ftype = FunctionType(tuple(arg_types), tuple(v.type for v in rets))
    return FuncOp.create(
        attributes={"sym_name": S(draw(names)), "function_type": TypeAttr(ftype)},
        regions=[Region([block])],
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(functions(), st.booleans())
def test_random_ir_round_trips(fn, inline_small):
    from imcc.compiler.ir import ModuleOp

    module = ModuleOp.build([fn])
    limit = 16 if inline_small else 0
    text = print_ir(module, inline_limit=limit)
    reparsed = parse_module(text, "random.mlir", allow_unregistered=True)
    assert print_ir(reparsed, inline_limit=limit) == text


@settings(max_examples=200, deadline=None)
@given(f32_values)
def test_float_attr_text_is_exact(x):
    from imcc.compiler.ir.printer import format_float

    value = FloatAttr(x)
    back = float(format_float(value.float_value).replace("inf", "inf"))
    assert np.float32(back).tobytes() == np.float32(value.float_value).tobytes() or (
        np.isnan(back) and np.isnan(value.float_value)
    )


def test_float_type_names():
    assert str(FloatType("bf16")) == "bf16"
