"""The nn dialect: verifier messages, text round trip, and the interpreter's semantics checked
against independent formulations (per-head loops, the ONNX kernels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.compiler.dialects import nn
from imcc.compiler.interp import nn_ops
from imcc.compiler.ir import VerificationError, parse_module, print_ir, verify
from imcc.runtime.kernels.onnx import KernelContext, kernel_for

FUNC = """"func.func"() ({{
^bb0({args}):
  {body}
  "func.return"(%y) : ({rtype}) -> ()
}}) {{function_type = ({atypes}) -> {rtype}, sym_name = "f"}} : () -> ()
"""


def function_text(args: dict[str, str], body: str, rtype: str) -> str:
    return FUNC.format(
        args=", ".join(f"%{n}: {t}" for n, t in args.items()),
        atypes=", ".join(args.values()),
        body=body,
        rtype=rtype,
    )


def module(args: dict[str, str], body: str, rtype: str):
    return parse_module(function_text(args, body, rtype), "test.mlir")


LINEAR = '%y = "nn.linear"(%x, %w, %b) : ({x}, {w}, {b}) -> {y}'
GOOD = {
    "linear": (
        {"x": "tensor<?x5x3xf32>", "w": "tensor<2x3xf32>", "b": "tensor<2xf32>"},
        LINEAR.format(
            x="tensor<?x5x3xf32>", w="tensor<2x3xf32>", b="tensor<2xf32>", y="tensor<?x5x2xf32>"
        ),
        "tensor<?x5x2xf32>",
    ),
    "layer_norm": (
        {"x": "tensor<2x3x4xf32>", "g": "tensor<3x4xf32>", "n": "none"},
        '%y = "nn.layer_norm"(%x, %g, %n) {axis = -2, epsilon = 1.0e-05} : '
        "(tensor<2x3x4xf32>, tensor<3x4xf32>, none) -> tensor<2x3x4xf32>",
        "tensor<2x3x4xf32>",
    ),
    "gelu": (
        {"x": "tensor<4xf32>"},
        '%y = "nn.gelu"(%x) {approximate = "tanh"} : (tensor<4xf32>) -> tensor<4xf32>',
        "tensor<4xf32>",
    ),
    "attention": (
        {
            "q": "tensor<2x3x8xf32>",
            "k": "tensor<2x5x8xf32>",
            "v": "tensor<2x5x4xf32>",
            "m": "tensor<2x1x1x5xf32>",
            "z": "tensor<1x1x3x5xi1>",
        },  # fmt: skip
        '%y = "nn.attention"(%q, %k, %v, %m, %z) {num_heads = 2, scale = 0.5} : (tensor<2x3x8xf32>, '
        "tensor<2x5x8xf32>, tensor<2x5x4xf32>, tensor<2x1x1x5xf32>, tensor<1x1x3x5xi1>) -> "
        "tensor<2x3x4xf32>",
        "tensor<2x3x4xf32>",
    ),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_valid_ops_verify_and_round_trip(name):
    m = module(*GOOD[name])
    verify(m)
    text = print_ir(m)
    assert f'"nn.{name}"' in text
    assert print_ir(parse_module(text, "again.mlir")) == text


BAD = [
    ("linear", "tensor<2x3xf32>", "tensor<2x4xf32>", "input has 3 features but the weight [out, in] is [2, 4]"),
    ("linear", "tensor<2xf32>", "tensor<3xf32>", "bias must be [2], got tensor<3xf32>"),
    ("linear", "tensor<?x5x2xf32>", "tensor<?x5x7xf32>", "result shape [?, 5, 7] should be [?, 5, 2]"),
    ("layer_norm", "axis = -2", "axis = 3", "axis 3 is out of range for rank 3"),
    ("layer_norm", "tensor<3x4xf32>", "tensor<4xf32>", "gamma must have the normalised shape [3, 4]"),
    ("gelu", '"tanh"', '"fast"', "approximate must be one of none, tanh, got 'fast'"),
    ("attention", "num_heads = 2", "num_heads = 3", "q width 8 is not divisible by num_heads 3"),
    ("attention", "tensor<2x1x1x5xf32>", "tensor<2x1x1x4xf32>", "mask [2, 1, 1, 4] does not broadcast"),
    ("attention", "tensor<1x1x3x5xi1>", "tensor<1x1x3x5xf32>", "zero_mask must be boolean (i1)"),
    ("attention", "tensor<2x5x4xf32>", "tensor<2x6x4xf32>", "k has 5 keys but v has 6 values"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name,old,new,message", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)]
)
def test_verifier_names_the_problem(name, old, new, message):
    text = function_text(*GOOD[name])
    assert old in text
    with pytest.raises(VerificationError) as info:
        verify(parse_module(text.replace(old, new), "test.mlir"))
    assert message in str(info.value), str(info.value)
    assert f"'nn.{name}'" in str(info.value)


# --- semantics ----------------------------------------------------------------------------------------


def attention_per_head(q, k, v, mask, zero_mask, heads, scale):
    """Attention written head by head and batch by batch, in float64 (an independent reference)."""
    b, sq, e = q.shape
    dk, dv = e // heads, v.shape[-1] // heads
    out = np.zeros((b, sq, heads * dv))
    for n in range(b):
        for h in range(heads):
            qh = q[n, :, h * dk : (h + 1) * dk].astype(np.float64)
            kh = k[n, :, h * dk : (h + 1) * dk].astype(np.float64)
            vh = v[n, :, h * dv : (h + 1) * dv].astype(np.float64)
            s = qh @ kh.T * scale
            if mask is not None:
                s = s + np.broadcast_to(mask, (b, heads, sq, k.shape[1]))[n, h]
            p = np.exp(s - s.max(axis=-1, keepdims=True))
            p /= p.sum(axis=-1, keepdims=True)
            if zero_mask is not None:
                p[np.broadcast_to(zero_mask, (b, heads, sq, k.shape[1]))[n, h]] = 0
            out[n, :, h * dv : (h + 1) * dv] = p @ vh
    return out


@settings(max_examples=25, deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4]),
    sq=st.integers(1, 5),
    sk=st.integers(1, 5),
    with_mask=st.booleans(),
    with_zero=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_attention_matches_per_head_reference(heads, sq, sk, with_mask, with_zero, seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(2, sq, heads * 3)).astype(np.float32)
    k = rng.normal(size=(2, sk, heads * 3)).astype(np.float32)
    v = rng.normal(size=(2, sk, heads * 2)).astype(np.float32)
    mask = rng.normal(0, 2, (2, 1, 1, sk)).astype(np.float32) if with_mask else None
    zero = rng.random((2, 1, 1, sk)) < 0.3 if with_zero else None
    got = nn_ops.attention(q, k, v, mask, zero, heads, 1 / math.sqrt(3))
    want = attention_per_head(q, k, v, mask, zero, heads, 1 / math.sqrt(3))
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def onnx_kernel(op_type: str, inputs, attrs, opset: int = 20):
    return kernel_for(op_type, opset)(inputs, attrs, KernelContext(opset))[0]


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_the_onnx_kernel(approximate):
    x = np.linspace(-6, 6, 97, dtype=np.float32)
    got = nn_ops.gelu(x, approximate)
    want = onnx_kernel("Gelu", [x], {"approximate": approximate})
    np.testing.assert_array_equal(got, want)


def test_layer_norm_matches_the_onnx_kernel():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=(2, 3, 8)).astype(np.float32)
    gamma, beta = (
        rng.normal(size=(3, 8)).astype(np.float32),
        rng.normal(size=(3, 8)).astype(np.float32),
    )
    got = nn_ops.layer_norm(x, gamma, beta, -2, 1e-5)
    want = onnx_kernel("LayerNormalization", [x, gamma, beta], {"axis": -2, "epsilon": 1e-5}, 17)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.dtype == np.float32


def test_linear_uses_out_in_weights():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    w = np.array([[1, 0, 0], [0, 1, 1]], np.float32)
    np.testing.assert_array_equal(
        nn_ops.linear(x, w, np.array([10, 20], np.float32)), [[10, 23], [13, 29]]
    )


def test_every_nn_op_is_documented_and_interpretable():
    from imcc.compiler.interp.interpreter import INTERPRETERS

    for name, cls in nn.NN_OPS.items():
        assert "Example:" in cls.__doc__ and f'"{name}"' in cls.__doc__
        assert name in INTERPRETERS
