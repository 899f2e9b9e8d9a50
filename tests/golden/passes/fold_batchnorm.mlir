// RUN: imcc-opt %s -p fold-batchnorm | filecheck %s
// RUN: imcc-opt %s -p 'fold-batchnorm{debug-patterns=true}' 2>&1 >/dev/null | filecheck %s --check-prefix=NOTE

// Conv + BatchNormalization: s = scale / sqrt(var + eps) = [2/2, 3/4] = [1, 0.75] scales each
// output channel's weights, and the bias becomes (b - mean) * s + B = [(1-1)*1+0.5, (0-2)*0.75+0].
// CHECK-NOT: "onnx.BatchNormalization"
// CHECK-DAG: %[[W:.*]] = "onnx.Constant"() {value = dense<{{\[\[\[\[}}2.0]]], {{\[\[\[}}3.0]]]]> : tensor<2x1x1x1xf32>}
// CHECK-DAG: %[[B:.*]] = "onnx.Constant"() {value = dense<[0.5, -1.5]> : tensor<2xf32>}
// CHECK: "onnx.Conv"(%arg0, %[[W]], %[[B]])
// CHECK-SAME: strides = [1, 1]
"func.func"() ({
^bb0(%x: tensor<1x1x4x4xf32>):
  %w = "onnx.Constant"() {value = dense<[[[[2.0]]], [[[4.0]]]]> : tensor<2x1x1x1xf32>} : () -> tensor<2x1x1x1xf32>
  %b = "onnx.Constant"() {value = dense<[1.0, 0.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %y = "onnx.Conv"(%x, %w, %b) {strides = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %scale = "onnx.Constant"() {value = dense<[2.0, 3.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %shift = "onnx.Constant"() {value = dense<[0.5, 0.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %mean = "onnx.Constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %var = "onnx.Constant"() {value = dense<[3.0, 15.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %z:3 = "onnx.BatchNormalization"(%y, %scale, %shift, %mean, %var) {epsilon = 1.0} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<1x2x4x4xf32>, none, none)
  "func.return"(%z#0) : (tensor<1x2x4x4xf32>) -> ()
}) {function_type = (tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>, sym_name = "conv"} : () -> ()
// CHECK-LABEL: sym_name = "conv"

// Gemm (transB = 1, alpha = 2) + BatchNormalization without a Gemm bias: B's rows (the outputs)
// are scaled by s * alpha and the BN shift becomes C; alpha and beta are reset to 1.
// CHECK-NOT: "onnx.BatchNormalization"
// CHECK-DAG: %[[B:.*]] = "onnx.Constant"() {value = dense<{{\[\[}}2.0, 4.0], [1.5, 1.5]]> : tensor<2x2xf32>}
// CHECK-DAG: %[[C:.*]] = "onnx.Constant"() {value = dense<[-0.5, -1.5]> : tensor<2xf32>}
// CHECK: "onnx.Gemm"(%arg0, %[[B]], %[[C]]) {alpha = 1.0, beta = 1.0, transB = 1}
"func.func"() ({
^bb0(%x: tensor<3x2xf32>):
  %w = "onnx.Constant"() {value = dense<[[1.0, 2.0], [1.0, 1.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %none = "onnx.NoValue"() : () -> none
  %y = "onnx.Gemm"(%x, %w, %none) {alpha = 2.0, transB = 1} : (tensor<3x2xf32>, tensor<2x2xf32>, none) -> tensor<3x2xf32>
  %scale = "onnx.Constant"() {value = dense<[2.0, 3.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %shift = "onnx.Constant"() {value = dense<[0.5, 0.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %mean = "onnx.Constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %var = "onnx.Constant"() {value = dense<[3.0, 15.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %z:3 = "onnx.BatchNormalization"(%y, %scale, %shift, %mean, %var) {epsilon = 1.0} : (tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<3x2xf32>, none, none)
  "func.return"(%z#0) : (tensor<3x2xf32>) -> ()
}) {function_type = (tensor<3x2xf32>) -> tensor<3x2xf32>, sym_name = "gemm"} : () -> ()
// CHECK-LABEL: sym_name = "gemm"

// No foldable producer: the BatchNormalization after a Relu stays, and debug-patterns says why.
// CHECK: "onnx.Relu"
// CHECK: "onnx.BatchNormalization"
// NOTE: note: pattern FoldBatchNorm did not match onnx.BatchNormalization at {{.*}}: its input comes from onnx.Relu; only Conv, Gemm, MatMul and nn.linear with a constant weight fold
"func.func"() ({
^bb0(%x: tensor<1x2x4x4xf32>):
  %y = "onnx.Relu"(%x) : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %scale = "onnx.Constant"() {value = dense<[2.0, 3.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %shift = "onnx.Constant"() {value = dense<[0.5, 0.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %mean = "onnx.Constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %var = "onnx.Constant"() {value = dense<[3.0, 15.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %z:3 = "onnx.BatchNormalization"(%y, %scale, %shift, %mean, %var) : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<1x2x4x4xf32>, none, none)
  "func.return"(%z#0) : (tensor<1x2x4x4xf32>) -> ()
}) {function_type = (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>, sym_name = "relu"} : () -> ()
// CHECK-LABEL: sym_name = "relu"
