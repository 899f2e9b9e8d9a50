// RUN: imcc-opt %s -p ternarize 2>%t.err | filecheck %s
// RUN: filecheck %s --check-prefix=WARN < %t.err
// RUN: imcc-opt %s -p 'ternarize{rule=twn},quantize-activations' 2>/dev/null | filecheck %s --check-prefix=ACT

// A weight that already is ternary (0.5 * {-1, 0, 1}, as quantization-aware training leaves it)
// is kept exactly whatever the rule: one plane, the scale is the weight's own magnitude, and the
// bias is not touched.
// CHECK-NOT: "nn.linear"
// CHECK: "quant.linear"(%arg0, %{{.*}}) {array_rows = 256, bias = dense<[1.0, -2.0]> : tensor<2xf32>, format = "ternary", quant.output_error = 0.0, quant.weight_error = 0.0, scale = dense<0.5> : tensor<1x2xf32>, weights = dense<{{\[\[\[}}1, 0, -1], [0, 1, 1]]]> : tensor<1x2x3xi8>} : (tensor<4x3xf32>, none) -> tensor<4x2xf32>
// WARN: imcc: warning: no calibration data given; using 32 seeded synthetic samples

// With activations quantized the input goes through the periphery's per-vector conversion, and
// the ADC shifts are calibrated per plane, row tile and column group.
// ACT: %[[Q:.*]]:2 = "quant.dynamic_quantize"(%arg0) {bits = 8} : (tensor<4x3xf32>) -> (tensor<4x3xi8>, tensor<4x1xf32>)
// ACT: "quant.linear"(%[[Q]]#0, %[[Q]]#1) {adc_bits = 8, adc_group = 256, adc_shift = dense<{{.*}}> : tensor<1x1x1x1xi64>
// ACT-SAME: format = "ternary"
"func.func"() ({
^bb0(%x: tensor<4x3xf32>):
  %w = "onnx.Constant"() {value = dense<[[0.5, 0.0, -0.5], [0.0, 0.5, 0.5]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %b = "onnx.Constant"() {value = dense<[1.0, -2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %y = "nn.linear"(%x, %w, %b) : (tensor<4x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  "func.return"(%y) : (tensor<4x2xf32>) -> ()
}) {function_type = (tensor<4x3xf32>) -> tensor<4x2xf32>, sym_name = "main"} : () -> ()
