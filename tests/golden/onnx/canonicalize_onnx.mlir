// RUN: imcc %s --emit onnx | filecheck %s

// Hand-written onnx IR at opset 17: constants fold through the kernels, no-op Identity and Cast
// disappear, and the Shape of a statically shaped value becomes a constant.
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%arg0: tensor<2x3xf32>):
    %0 = "onnx.Constant"() {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %1 = "onnx.Constant"() {value = dense<[0.5, 0.5, 0.5]> : tensor<3xf32>} : () -> tensor<3xf32>
    %2 = "onnx.Mul"(%0, %1) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %3 = "onnx.Identity"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %4 = "onnx.Cast"(%3) {to = 1} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %5 = "onnx.Add"(%4, %2) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %6 = "onnx.Shape"(%5) {start = 0} : (tensor<2x3xf32>) -> tensor<2xi64>
    "func.return"(%5, %6) : (tensor<2x3xf32>, tensor<2xi64>) -> ()
  }) {arg_names = ["x"], function_type = (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2xi64>), result_names = ["y", "shape"], sym_name = "main"} : () -> ()
}) {onnx.opset = 17} : () -> ()

// CHECK:      ^bb0(%arg0: tensor<2x3xf32>):
// CHECK-NEXT:   %0 = "onnx.Constant"() {value = dense<[0.5, 1.0, 1.5]> : tensor<3xf32>}
// CHECK-NEXT:   %1 = "onnx.Add"(%arg0, %0) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:   %2 = "onnx.Constant"() {value = dense<[2, 3]> : tensor<2xi64>}
// CHECK-NEXT:   "func.return"(%1, %2)
// CHECK-NOT:  onnx.Identity
// CHECK-NOT:  onnx.Cast

