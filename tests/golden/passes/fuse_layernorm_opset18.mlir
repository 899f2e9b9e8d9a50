// RUN: imcc-opt %s -p fuse-layernorm | filecheck %s

"builtin.module"() ({
// Variants: Mul(d, d) for the square, Mul by Reciprocal(Sqrt) for the division, epsilon first
// in its Add, gamma a [1, 4] constant, no beta; ReduceMean axes as an operand (opset 18).
// CHECK: %[[G:.*]] = "onnx.Constant"() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>}
// CHECK: %[[NONE:.*]] = "onnx.NoValue"()
// CHECK: "nn.layer_norm"(%arg0, %[[G]], %[[NONE]]) {axis = -1, epsilon = 1.0e-05}
// CHECK-NOT: "onnx.Reciprocal"
  "func.func"() ({
  ^bb0(%x: tensor<3x4xf32>):
    %axes = "onnx.Constant"() {value = dense<[1]> : tensor<1xi64>} : () -> tensor<1xi64>
    %mean = "onnx.ReduceMean"(%x, %axes) {keepdims = 1} : (tensor<3x4xf32>, tensor<1xi64>) -> tensor<3x1xf32>
    %d = "onnx.Sub"(%x, %mean) : (tensor<3x4xf32>, tensor<3x1xf32>) -> tensor<3x4xf32>
    %sq = "onnx.Mul"(%d, %d) : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
    %var = "onnx.ReduceMean"(%sq, %axes) {keepdims = 1} : (tensor<3x4xf32>, tensor<1xi64>) -> tensor<3x1xf32>
    %eps = "onnx.Constant"() {value = dense<1.0e-05> : tensor<1xf32>} : () -> tensor<1xf32>
    %ve = "onnx.Add"(%eps, %var) : (tensor<1xf32>, tensor<3x1xf32>) -> tensor<3x1xf32>
    %std = "onnx.Sqrt"(%ve) : (tensor<3x1xf32>) -> tensor<3x1xf32>
    %inv = "onnx.Reciprocal"(%std) : (tensor<3x1xf32>) -> tensor<3x1xf32>
    %n = "onnx.Mul"(%d, %inv) : (tensor<3x4xf32>, tensor<3x1xf32>) -> tensor<3x4xf32>
    %gamma = "onnx.Constant"() {value = dense<[[1.0, 2.0, 3.0, 4.0]]> : tensor<1x4xf32>} : () -> tensor<1x4xf32>
    %y = "onnx.Mul"(%gamma, %n) : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
    "func.return"(%y) : (tensor<3x4xf32>) -> ()
  }) {function_type = (tensor<3x4xf32>) -> tensor<3x4xf32>, sym_name = "variant"} : () -> ()
  // CHECK-LABEL: sym_name = "variant"
}) {onnx.opset = 18} : () -> ()
