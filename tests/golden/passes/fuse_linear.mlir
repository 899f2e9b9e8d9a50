// RUN: imcc-opt %s -p fuse-linear | filecheck %s
// RUN: imcc-opt %s -p 'fuse-linear{debug-patterns=true}' 2>&1 >/dev/null | filecheck %s --check-prefix=NOTE

// MatMul with a constant [in, out] weight followed by Add(bias, .) as torch exports nn.Linear: one
// nn.linear with the weight transposed to [out, in] and the bias absorbed.
// CHECK-NOT: "onnx.MatMul"
// CHECK-NOT: "onnx.Add"
// CHECK-DAG: %[[W:.*]] = "onnx.Constant"() {value = dense<{{\[\[}}1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]> : tensor<2x3xf32>}
// CHECK-DAG: %[[B:.*]] = "onnx.Constant"() {value = dense<[0.5, -0.5]> : tensor<2xf32>}
// CHECK: "nn.linear"(%arg0, %[[W]], %[[B]]) : (tensor<?x4x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<?x4x2xf32>
"func.func"() ({
^bb0(%x: tensor<?x4x3xf32>):
  %w = "onnx.Constant"() {value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %b = "onnx.Constant"() {value = dense<[0.5, -0.5]> : tensor<2xf32>} : () -> tensor<2xf32>
  %y = "onnx.MatMul"(%x, %w) : (tensor<?x4x3xf32>, tensor<3x2xf32>) -> tensor<?x4x2xf32>
  %z = "onnx.Add"(%b, %y) : (tensor<2xf32>, tensor<?x4x2xf32>) -> tensor<?x4x2xf32>
  "func.return"(%z) : (tensor<?x4x2xf32>) -> ()
}) {function_type = (tensor<?x4x3xf32>) -> tensor<?x4x2xf32>, sym_name = "matmul_bias"} : () -> ()
// CHECK-LABEL: sym_name = "matmul_bias"

// Gemm(transB = 1, alpha = 2, beta = 3): the weight is alpha * B and the bias beta * C.
// CHECK-NOT: "onnx.Gemm"
// CHECK-DAG: %[[W:.*]] = "onnx.Constant"() {value = dense<{{\[\[}}2.0, 4.0, 6.0], [8.0, 10.0, 12.0]]> : tensor<2x3xf32>}
// CHECK-DAG: %[[B:.*]] = "onnx.Constant"() {value = dense<[3.0, 6.0]> : tensor<2xf32>}
// CHECK: "nn.linear"(%arg0, %[[W]], %[[B]]) : (tensor<5x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<5x2xf32>
"func.func"() ({
^bb0(%x: tensor<5x3xf32>):
  %w = "onnx.Constant"() {value = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %c = "onnx.Constant"() {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} : () -> tensor<1x2xf32>
  %y = "onnx.Gemm"(%x, %w, %c) {alpha = 2.0, beta = 3.0, transB = 1} : (tensor<5x3xf32>, tensor<2x3xf32>, tensor<1x2xf32>) -> tensor<5x2xf32>
  "func.return"(%y) : (tensor<5x2xf32>) -> ()
}) {function_type = (tensor<5x3xf32>) -> tensor<5x2xf32>, sym_name = "gemm"} : () -> ()
// CHECK-LABEL: sym_name = "gemm"

// Gemm(transA = 1) with a C that varies per row: A is transposed first and C stays an Add.
// CHECK: %[[XT:.*]] = "onnx.Transpose"(%arg0) {perm = [1, 0]} : (tensor<3x5xf32>) -> tensor<5x3xf32>
// CHECK: %[[Y:.*]] = "nn.linear"(%[[XT]], %{{.*}}, %{{.*}}) : (tensor<5x3xf32>, tensor<2x3xf32>, none) -> tensor<5x2xf32>
// CHECK: "onnx.Add"(%[[Y]], %{{.*}}) : (tensor<5x2xf32>, tensor<5x1xf32>) -> tensor<5x2xf32>
"func.func"() ({
^bb0(%x: tensor<3x5xf32>):
  %w = "onnx.Constant"() {value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %c = "onnx.Constant"() {value = dense<[[1.0], [2.0], [3.0], [4.0], [5.0]]> : tensor<5x1xf32>} : () -> tensor<5x1xf32>
  %y = "onnx.Gemm"(%x, %w, %c) {transA = 1} : (tensor<3x5xf32>, tensor<3x2xf32>, tensor<5x1xf32>) -> tensor<5x2xf32>
  "func.return"(%y) : (tensor<5x2xf32>) -> ()
}) {function_type = (tensor<3x5xf32>) -> tensor<5x2xf32>, sym_name = "gemm_trans_a"} : () -> ()
// CHECK-LABEL: sym_name = "gemm_trans_a"

// A product of two activations is not a linear layer: it stays, and debug-patterns says why.
// CHECK: "onnx.MatMul"(%arg0, %arg1)
// NOTE: note: pattern MatMulToLinear did not match onnx.MatMul at {{.*}}: operand B is not a constant (argument #1)
"func.func"() ({
^bb0(%a: tensor<4x3xf32>, %b: tensor<3x2xf32>):
  %y = "onnx.MatMul"(%a, %b) : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  "func.return"(%y) : (tensor<4x2xf32>) -> ()
}) {function_type = (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>, sym_name = "dynamic"} : () -> ()
// CHECK-LABEL: sym_name = "dynamic"
