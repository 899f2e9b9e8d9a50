// RUN: imcc-opt %s | filecheck %s
// RUN: imcc-opt %s | imcc-opt | filecheck %s

// The quant ops in their generic form: a static DAC conversion into unsigned codes, a crossbar
// convolution with two residual ternary planes read through an 8-bit ADC, a per-vector dynamic
// conversion and an 8-bit-weight linear layer held as two 4-bit planes (w = 15·h + l).
// CHECK: %[[Q:.*]] = "quant.quantize"(%arg0) {bits = 8, scale = 0.01, zero_point = 0} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xui8>
// CHECK: %[[C:.*]] = "quant.conv"(%[[Q]]) {adc_bits = 8, adc_group = 256, adc_shift = dense<[{{\[\[\[}}2]]], {{\[\[\[}}1]]]]> : tensor<2x1x1x1xi64>, array_rows = 256
// CHECK-SAME: format = "ternary"
// CHECK-SAME: weights = dense<{{.*}}> : tensor<2x1x2xi8>
// CHECK: %[[D:.*]]:2 = "quant.dynamic_quantize"(%{{.*}}) {bits = 8}
// CHECK: "quant.linear"(%[[D]]#0, %[[D]]#1) {array_rows = 256, format = "int4"
"func.func"() ({
^bb0(%x: tensor<1x2x4x4xf32>):
  %q = "quant.quantize"(%x) {bits = 8, scale = 0.01 : f32, zero_point = 0} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xui8>
  %c = "quant.conv"(%q) {adc_bits = 8, adc_group = 256, adc_shift = dense<[[[[2]]], [[[1]]]]> : tensor<2x1x1x1xi64>, array_rows = 256, dilations = [1, 1], format = "ternary", input_scale = 0.01 : f32, input_zero_point = 0, kernel_shape = [1, 1], pads = [0, 0, 0, 0], scale = dense<[[0.5], [0.125]]> : tensor<2x1xf32>, strides = [1, 1], weights = dense<[[[1, -1]], [[0, 1]]]> : tensor<2x1x2xi8>} : (tensor<1x2x4x4xui8>) -> tensor<1x1x4x4xf32>
  %shape = "onnx.Constant"() {value = dense<[1, 16]> : tensor<2xi64>} : () -> tensor<2xi64>
  %r = "onnx.Reshape"(%c, %shape) : (tensor<1x1x4x4xf32>, tensor<2xi64>) -> tensor<1x16xf32>
  %d:2 = "quant.dynamic_quantize"(%r) {bits = 8} : (tensor<1x16xf32>) -> (tensor<1x16xi8>, tensor<1x1xf32>)
  %y = "quant.linear"(%d#0, %d#1) {array_rows = 256, format = "int4", scale = dense<[[0.15, 0.3], [0.01, 0.02]]> : tensor<2x2xf32>, weights = dense<[[[3, -7, 0, 1, 2, 5, 7, -1, 0, 0, 4, 3, -2, 6, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]], [[-3, 7, 0, -1, 2, 5, 7, -1, 0, 0, 4, 3, -2, 6, 1, 1], [0, 1, 2, 3, 4, 5, 6, 7, -1, -2, -3, -4, -5, -6, -7, 0]]]> : tensor<2x2x16xi8>} : (tensor<1x16xi8>, tensor<1x1xf32>) -> tensor<1x2xf32>
  "func.return"(%y) : (tensor<1x2xf32>) -> ()
}) {function_type = (tensor<1x2x4x4xf32>) -> tensor<1x2xf32>, sym_name = "main"} : () -> ()
