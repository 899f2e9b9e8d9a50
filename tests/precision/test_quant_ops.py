"""The quant dialect's interpreter semantics and verifier, op by op."""

from __future__ import annotations

import imcc.compiler.dialects  # noqa: F401
import numpy as np
import pytest
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir import VerificationError, parse_module, verify
from imcc.compiler.precision.numerics.adc import adc_read


def module(body: str, args: str, results: str) -> str:
    return (
        '"func.func"() ({\n^bb0(' + args + "):\n" + body + "\n}) {function_type = ("
        + ", ".join(a.split(": ")[1] for a in args.split(", ")) + f") -> {results}, "
        + 'sym_name = "main"} : () -> ()'
    )  # fmt: skip


def run(text: str, *inputs):
    m = parse_module(text, "t.mlir")
    verify(m)
    return run_module(m, list(inputs)).as_list()


def test_quantize_rounds_half_to_even_and_saturates():
    text = module(
        '  %q = "quant.quantize"(%x) {bits = 8, scale = 0.5 : f32, zero_point = 0} : '
        "(tensor<6xf32>) -> tensor<6xi8>\n"
        '  "func.return"(%q) : (tensor<6xi8>) -> ()',
        "%x: tensor<6xf32>",
        "tensor<6xi8>",
    )
    x = np.array([0.25, 0.75, -1.25, 100.0, -100.0, 1.0], np.float32)
    (q,) = run(text, x)
    assert q.dtype == np.int8
    np.testing.assert_array_equal(q, [0, 2, -2, 127, -127, 2])


def test_unsigned_codes_with_zero_point():
    text = module(
        '  %q = "quant.quantize"(%x) {bits = 4, scale = 0.1 : f32, zero_point = 3} : '
        "(tensor<4xf32>) -> tensor<4xui8>\n"
        '  "func.return"(%q) : (tensor<4xui8>) -> ()',
        "%x: tensor<4xf32>",
        "tensor<4xui8>",
    )
    (q,) = run(text, np.array([-1.0, 0.0, 0.52, 5.0], np.float32))
    np.testing.assert_array_equal(q, [0, 3, 8, 15])


def test_dynamic_quantize_scales_every_vector():
    text = module(
        '  %q:2 = "quant.dynamic_quantize"(%x) {bits = 8} : (tensor<2x3xf32>) -> '
        "(tensor<2x3xi8>, tensor<2x1xf32>)\n"
        '  "func.return"(%q#0, %q#1) : (tensor<2x3xi8>, tensor<2x1xf32>) -> ()',
        "%x: tensor<2x3xf32>",
        "(tensor<2x3xi8>, tensor<2x1xf32>)",
    )
    q, s = run(text, np.array([[1.0, -0.5, 0.25], [0.0, 0.0, 0.0]], np.float32))
    np.testing.assert_array_equal(q, [[127, -64, 32], [0, 0, 0]])
    np.testing.assert_allclose(s, [[1 / 127], [1.0]], rtol=1e-7)


LINEAR = (
    '  %n = "onnx.NoValue"() : () -> none\n'
    '  %y = "quant.linear"(%q, %n) {adc_bits = 4, adc_group = 1, adc_shift = dense<[[[[2, 0]]]]> : '
    "tensor<1x1x1x2xi64>, array_rows = 256, bias = dense<[0.5, -1.0]> : tensor<2xf32>, "
    'format = "ternary", input_scale = 0.25 : f32, input_zero_point = 1, '
    "scale = dense<[[2.0, 0.5]]> : tensor<1x2xf32>, weights = dense<[[[1, 0, -1], [1, 1, 1]]]> : "
    "tensor<1x2x3xi8>} : (tensor<2x3xui8>, none) -> tensor<2x2xf32>\n"
    '  "func.return"(%y) : (tensor<2x2xf32>) -> ()'
)


def test_linear_integer_path_by_hand():
    codes = np.array([[40, 1, 3], [0, 9, 2]], np.uint8)
    (y,) = run(module(LINEAR, "%q: tensor<2x3xui8>", "tensor<2x2xf32>"), codes)
    cells = np.array([[1, 0, -1], [1, 1, 1]])
    sums = codes.astype(np.int64) @ cells.T
    read = adc_read(sums, np.array([2, 0]), 4)  # 4-bit ADC: codes −8..7 times 2^shift
    digital = read - 1 * cells.sum(axis=1)  # zero point 1 taken off digitally
    want = (digital * np.array([2.0, 0.5]) * 0.25 + np.array([0.5, -1.0])).astype(np.float32)
    np.testing.assert_array_equal(y, want)
    assert read[0, 0] == 28  # 37 saturates at 7·4: the ADC range is part of the semantics


def test_conv_pads_integer_input_with_zero_point():
    text = module(
        '  %y = "quant.conv"(%q) {array_rows = 256, dilations = [1, 1], format = "ternary", '
        "input_scale = 1.0 : f32, input_zero_point = 10, kernel_shape = [1, 2], pads = [0, 1, 0, 0], "
        "scale = dense<1.0> : tensor<1x1xf32>, strides = [1, 1], weights = dense<1> : tensor<1x1x2xi8>} "
        ": (tensor<1x1x1x2xui8>) -> tensor<1x1x1x2xf32>\n"
        '  "func.return"(%y) : (tensor<1x1x1x2xf32>) -> ()',
        "%q: tensor<1x1x1x2xui8>",
        "tensor<1x1x1x2xf32>",
    )
    (y,) = run(text, np.array([[[[12, 15]]]], np.uint8))
    # Real values are q − 10: the padded position is a real 0, so y = [0 + 2, 2 + 5].
    np.testing.assert_array_equal(y.reshape(-1), [2.0, 7.0])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('format = "ternary"', "format must be one of"),
        ("array_rows = 256", "array_rows must be positive"),
        ("input_zero_point = 1", "i8 input codes are symmetric"),
    ],
)
def test_verifier_rejects(bad, message):
    good = {
        'format = "ternary"': 'format = "binary"',
        "array_rows = 256": "array_rows = 0",
        "input_zero_point = 1": "input_zero_point = 1",
    }
    body = LINEAR.replace(bad, good[bad]).replace("tensor<2x3xui8>", "tensor<2x3xi8>")
    if bad != "input_zero_point = 1":
        body = body.replace("input_zero_point = 1", "input_zero_point = 0")
    m = parse_module(module(body, "%q: tensor<2x3xi8>", "tensor<2x2xf32>"), "t.mlir")
    with pytest.raises(VerificationError, match=message):
        verify(m)
