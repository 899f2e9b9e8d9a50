"""The onnx dialect defines the op set; the interpreter implements it with the kernel library."""

from __future__ import annotations

import pytest
from imcc.compiler.dialects.onnx import ONNX_OP_TYPES, ONNX_OPS, SUPPORTED_OP_TYPES
from imcc.compiler.interp.interpreter import check_kernels
from imcc.runtime.kernels.onnx import KERNELS


def test_the_dialect_lists_each_op_type_once_and_has_a_class_for_each():
    assert len(set(ONNX_OP_TYPES)) == len(ONNX_OP_TYPES)
    assert SUPPORTED_OP_TYPES == tuple(sorted(ONNX_OP_TYPES)) == tuple(ONNX_OPS)
    assert all(ONNX_OPS[t].name == f"onnx.{t}" for t in ONNX_OP_TYPES)


def test_every_listed_op_type_has_a_kernel():
    check_kernels(ONNX_OP_TYPES, KERNELS)
    assert not [t for t in ONNX_OP_TYPES if t not in KERNELS]


def test_a_listed_op_without_a_kernel_is_named_at_import():
    with pytest.raises(ImportError, match=r"defines onnx\.Frobnicate, but the kernel library"):
        check_kernels((*ONNX_OP_TYPES, "Frobnicate"), KERNELS)
    with pytest.raises(ImportError, match=r"onnx\.Foo, onnx\.Bar.*no kernel for them"):
        check_kernels(("Relu", "Foo", "Bar"), KERNELS)
