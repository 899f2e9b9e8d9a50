// RUN: imcc-opt %s -p fuse-layernorm | filecheck %s
// RUN: imcc-opt %s -p 'fuse-layernorm{debug-patterns=true}' 2>&1 >/dev/null | filecheck %s --check-prefix=NOTE

"builtin.module"() ({
// torch's decomposed LayerNorm (before opset 18 ReduceMean takes its axes as an attribute).
// CHECK-NOT: "onnx.ReduceMean"
// CHECK-NOT: "onnx.Sqrt"
// CHECK: %[[Y:.*]] = "nn.layer_norm"(%arg0, %{{.*}}, %{{.*}}) {axis = -1, epsilon = 1.0e-12} : (tensor<2x?x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x?x4xf32>
// CHECK-NEXT: "func.return"(%[[Y]])
  "func.func"() ({
  ^bb0(%x: tensor<2x?x4xf32>):
    %gamma = "onnx.Constant"() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %beta = "onnx.Constant"() {value = dense<[0.1, 0.2, 0.3, 0.4]> : tensor<4xf32>} : () -> tensor<4xf32>
    %mean = "onnx.ReduceMean"(%x) {axes = [-1], keepdims = 1} : (tensor<2x?x4xf32>) -> tensor<2x?x1xf32>
    %d = "onnx.Sub"(%x, %mean) : (tensor<2x?x4xf32>, tensor<2x?x1xf32>) -> tensor<2x?x4xf32>
    %two = "onnx.Constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %sq = "onnx.Pow"(%d, %two) : (tensor<2x?x4xf32>, tensor<f32>) -> tensor<2x?x4xf32>
    %var = "onnx.ReduceMean"(%sq) {axes = [-1], keepdims = 1} : (tensor<2x?x4xf32>) -> tensor<2x?x1xf32>
    %eps = "onnx.Constant"() {value = dense<1.0e-12> : tensor<f32>} : () -> tensor<f32>
    %ve = "onnx.Add"(%var, %eps) : (tensor<2x?x1xf32>, tensor<f32>) -> tensor<2x?x1xf32>
    %std = "onnx.Sqrt"(%ve) : (tensor<2x?x1xf32>) -> tensor<2x?x1xf32>
    %n = "onnx.Div"(%d, %std) : (tensor<2x?x4xf32>, tensor<2x?x1xf32>) -> tensor<2x?x4xf32>
    %g = "onnx.Mul"(%n, %gamma) : (tensor<2x?x4xf32>, tensor<4xf32>) -> tensor<2x?x4xf32>
    %y = "onnx.Add"(%g, %beta) : (tensor<2x?x4xf32>, tensor<4xf32>) -> tensor<2x?x4xf32>
    "func.return"(%y) : (tensor<2x?x4xf32>) -> ()
  }) {function_type = (tensor<2x?x4xf32>) -> tensor<2x?x4xf32>, sym_name = "torch"} : () -> ()
  // CHECK-LABEL: sym_name = "torch"

// onnx.LayerNormalization over the last two axes.
// CHECK-NOT: "onnx.LayerNormalization"
// CHECK: "nn.layer_norm"(%arg0, %{{.*}}, %{{.*}}) {axis = -2, epsilon = 0.001}
  "func.func"() ({
  ^bb0(%x: tensor<2x3x2xf32>):
    %scale = "onnx.Constant"() {value = dense<1.5> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
    %bias = "onnx.Constant"() {value = dense<0.5> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
    %y:3 = "onnx.LayerNormalization"(%x, %scale, %bias) {axis = 1, epsilon = 0.001} : (tensor<2x3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>) -> (tensor<2x3x2xf32>, none, none)
    "func.return"(%y#0) : (tensor<2x3x2xf32>) -> ()
  }) {function_type = (tensor<2x3x2xf32>) -> tensor<2x3x2xf32>, sym_name = "onnx_op"} : () -> ()
  // CHECK-LABEL: sym_name = "onnx_op"

// Mean over a leading axis is not a layer norm: nothing changes, and debug-patterns says why.
// CHECK: "onnx.Div"
// NOTE: note: pattern DecomposedLayerNorm did not match onnx.Div at {{.*}}: the ReduceMean axes [0] are not the trailing axes of a rank-2 tensor
  "func.func"() ({
  ^bb0(%x: tensor<3x4xf32>):
    %mean = "onnx.ReduceMean"(%x) {axes = [0], keepdims = 1} : (tensor<3x4xf32>) -> tensor<1x4xf32>
    %d = "onnx.Sub"(%x, %mean) : (tensor<3x4xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
    %two = "onnx.Constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %sq = "onnx.Pow"(%d, %two) : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
    %var = "onnx.ReduceMean"(%sq) {axes = [0], keepdims = 1} : (tensor<3x4xf32>) -> tensor<1x4xf32>
    %eps = "onnx.Constant"() {value = dense<1.0e-05> : tensor<f32>} : () -> tensor<f32>
    %ve = "onnx.Add"(%var, %eps) : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xf32>
    %std = "onnx.Sqrt"(%ve) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %n = "onnx.Div"(%d, %std) : (tensor<3x4xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
    "func.return"(%n) : (tensor<3x4xf32>) -> ()
  }) {function_type = (tensor<3x4xf32>) -> tensor<3x4xf32>, sym_name = "leading_axis"} : () -> ()
  // CHECK-LABEL: sym_name = "leading_axis"
}) {onnx.opset = 17} : () -> ()
