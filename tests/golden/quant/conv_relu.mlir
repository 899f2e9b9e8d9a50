// RUN: imcc-opt %s -p 'ternarize{rule=l2},quantize-activations{mode=static},precision-report' 2>%t.err | filecheck %s
// RUN: filecheck %s --check-prefix=REPORT < %t.err

// Two convolutions with a ReLU between: the first reads signed codes (its synthetic input is
// signed), the second unsigned ones (a ReLU output is never negative, so all 8 bits go to the
// magnitude). Padding of integer inputs uses the zero point; geometry is explicit.
// CHECK: %[[Q0:.*]] = "quant.quantize"(%arg0) {bits = 8, scale = {{.*}}, zero_point = 0} : (tensor<2x1x4x4xf32>) -> tensor<2x1x4x4xi8>
// CHECK: %[[C0:.*]] = "quant.conv"(%[[Q0]])
// CHECK-SAME: kernel_shape = [3, 3], pads = [1, 1, 1, 1]
// CHECK-SAME: -> tensor<2x2x4x4xf32>
// CHECK: %[[R:.*]] = "onnx.Relu"(%[[C0]])
// CHECK: %[[Q1:.*]] = "quant.quantize"(%[[R]]) {{.*}} -> tensor<2x2x4x4xui8>
// CHECK: "quant.conv"(%[[Q1]])
// CHECK-SAME: format = "ternary"
// CHECK-SAME: -> tensor<2x3x4x4xf32>

// REPORT: precision report
// REPORT: | layer | shape | choice | sparsity | w.err | out.err | act.err | input | columns |
// REPORT: | c0 | 2x9 | t1 |
// REPORT-SAME: | static i8 | 2 |
// REPORT: | c1 | 3x2 | t1 |
// REPORT-SAME: | static ui8 | 3 |
// REPORT: weights: 24 = 1-plane ternary 100.0 %
// REPORT: crossbar columns: 5
// REPORT: model vs fp32 on calibration (<synthetic>): relative error
"func.func"() ({
^bb0(%x: tensor<2x1x4x4xf32>):
  %w = "onnx.Constant"() {value = dense<[[[[0.3, -0.2, 0.1], [0.5, 0.9, -0.4], [0.05, 0.2, -0.7]]], [[[-0.6, 0.1, 0.3], [0.2, -0.1, 0.8], [0.4, -0.3, 0.02]]]]> : tensor<2x1x3x3xf32>} : () -> tensor<2x1x3x3xf32>
  %b = "onnx.Constant"() {value = dense<[0.1, -0.2]> : tensor<2xf32>} : () -> tensor<2xf32>
  %c = "onnx.Conv"(%x, %w, %b) {dilations = [1, 1], group = 1, kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [1, 1]} : (tensor<2x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<2x2x4x4xf32> loc("c0")
  %r = "onnx.Relu"(%c) : (tensor<2x2x4x4xf32>) -> tensor<2x2x4x4xf32>
  %w2 = "onnx.Constant"() {value = dense<[[[[1.0]], [[-0.5]]], [[[0.25]], [[0.75]]], [[[-1.0]], [[0.3]]]]> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
  %n = "onnx.NoValue"() : () -> none
  %c2 = "onnx.Conv"(%r, %w2, %n) {dilations = [1, 1], group = 1, kernel_shape = [1, 1], pads = [0, 0, 0, 0], strides = [1, 1]} : (tensor<2x2x4x4xf32>, tensor<3x2x1x1xf32>, none) -> tensor<2x3x4x4xf32> loc("c1")
  "func.return"(%c2) : (tensor<2x3x4x4xf32>) -> ()
}) {function_type = (tensor<2x1x4x4xf32>) -> tensor<2x3x4x4xf32>, sym_name = "main"} : () -> ()
