// RUN: imcc-opt %s -p fuse-attention | filecheck %s
// RUN: imcc-opt %s -p 'fuse-attention{debug-patterns=true}' 2>&1 >/dev/null | filecheck %s --check-prefix=NOTE

// Static shapes as a fixed-size export spells them: constant Reshape targets with -1, K split and
// transposed with torch's fused permutation [0, 2, 3, 1], scores divided by sqrt(head width),
// an additive mask, the heads merged back into [1, 3, 4].
// CHECK-NOT: "onnx.Softmax"
// CHECK-NOT: "onnx.Transpose"
// CHECK-NOT: "onnx.Reshape"
// CHECK: %[[NONE:.*]] = "onnx.NoValue"()
// CHECK: %[[Y:.*]] = "nn.attention"(%arg0, %arg1, %arg2, %arg3, %[[NONE]]) {num_heads = 2, scale = 0.70710677} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x1x1x3xf32>, none) -> tensor<1x3x4xf32>
// CHECK-NEXT: "func.return"(%[[Y]])
"func.func"() ({
^bb0(%q: tensor<1x3x4xf32>, %k: tensor<1x3x4xf32>, %v: tensor<1x3x4xf32>, %mask: tensor<1x1x1x3xf32>):
  %split = "onnx.Constant"() {value = dense<[-1, 3, 2, 2]> : tensor<4xi64>} : () -> tensor<4xi64>
  %q4 = "onnx.Reshape"(%q, %split) : (tensor<1x3x4xf32>, tensor<4xi64>) -> tensor<1x3x2x2xf32>
  %qh = "onnx.Transpose"(%q4) {perm = [0, 2, 1, 3]} : (tensor<1x3x2x2xf32>) -> tensor<1x2x3x2xf32>
  %k4 = "onnx.Reshape"(%k, %split) : (tensor<1x3x4xf32>, tensor<4xi64>) -> tensor<1x3x2x2xf32>
  %kt = "onnx.Transpose"(%k4) {perm = [0, 2, 3, 1]} : (tensor<1x3x2x2xf32>) -> tensor<1x2x2x3xf32>
  %v4 = "onnx.Reshape"(%v, %split) : (tensor<1x3x4xf32>, tensor<4xi64>) -> tensor<1x3x2x2xf32>
  %vh = "onnx.Transpose"(%v4) {perm = [0, 2, 1, 3]} : (tensor<1x3x2x2xf32>) -> tensor<1x2x3x2xf32>
  %s = "onnx.MatMul"(%qh, %kt) : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %c = "onnx.Constant"() {value = dense<1.4142135> : tensor<f32>} : () -> tensor<f32>
  %ss = "onnx.Div"(%s, %c) : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %sm = "onnx.Add"(%ss, %mask) : (tensor<1x2x3x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x3x3xf32>
  %p = "onnx.Softmax"(%sm) {axis = -1} : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = "onnx.MatMul"(%p, %vh) : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = "onnx.Transpose"(%o) {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %merge = "onnx.Constant"() {value = dense<[-1, 3, 4]> : tensor<3xi64>} : () -> tensor<3xi64>
  %y = "onnx.Reshape"(%ot, %merge) : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  "func.return"(%y) : (tensor<1x3x4xf32>) -> ()
}) {function_type = (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x1x1x3xf32>) -> tensor<1x3x4xf32>, sym_name = "static"} : () -> ()
// CHECK-LABEL: sym_name = "static"

// A dynamic sequence length: the Reshape targets read the sequence length back with
// Shape/Gather/Unsqueeze/Concat; K is transposed twice; the scale multiplies Q before the
// product; masked_fill(padding, 0) follows the softmax. No additive mask.
// CHECK-NOT: "onnx.Softmax"
// CHECK-NOT: "onnx.Where"
// CHECK: "nn.attention"(%arg0, %arg1, %arg2, %{{.*}}, %arg3) {num_heads = 2, scale = 0.5} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>, none, tensor<1x1x1x?xi1>) -> tensor<1x?x4xf32>
"func.func"() ({
^bb0(%q: tensor<1x?x4xf32>, %k: tensor<1x?x4xf32>, %v: tensor<1x?x4xf32>, %pad: tensor<1x1x1x?xi1>):
  %one = "onnx.Constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %axes = "onnx.Constant"() {value = dense<[0]> : tensor<1xi64>} : () -> tensor<1xi64>
  %lead = "onnx.Constant"() {value = dense<[1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %hd = "onnx.Constant"() {value = dense<[2, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %qs = "onnx.Shape"(%q) : (tensor<1x?x4xf32>) -> tensor<3xi64>
  %qn = "onnx.Gather"(%qs, %one) {axis = 0} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %qn1 = "onnx.Unsqueeze"(%qn, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %qt = "onnx.Concat"(%lead, %qn1, %hd) {axis = 0} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
  %q4 = "onnx.Reshape"(%q, %qt) : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x2x2xf32>
  %qh = "onnx.Transpose"(%q4) {perm = [0, 2, 1, 3]} : (tensor<1x?x2x2xf32>) -> tensor<1x2x?x2xf32>
  %half = "onnx.Constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %qhs = "onnx.Mul"(%qh, %half) : (tensor<1x2x?x2xf32>, tensor<f32>) -> tensor<1x2x?x2xf32>
  %ks = "onnx.Shape"(%k) : (tensor<1x?x4xf32>) -> tensor<3xi64>
  %kn = "onnx.Gather"(%ks, %one) {axis = 0} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %kn1 = "onnx.Unsqueeze"(%kn, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %kt4 = "onnx.Concat"(%lead, %kn1, %hd) {axis = 0} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
  %k4 = "onnx.Reshape"(%k, %kt4) : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x2x2xf32>
  %kh = "onnx.Transpose"(%k4) {perm = [0, 2, 1, 3]} : (tensor<1x?x2x2xf32>) -> tensor<1x2x?x2xf32>
  %kt = "onnx.Transpose"(%kh) {perm = [0, 1, 3, 2]} : (tensor<1x2x?x2xf32>) -> tensor<1x2x2x?xf32>
  %vs = "onnx.Shape"(%v) : (tensor<1x?x4xf32>) -> tensor<3xi64>
  %vn = "onnx.Gather"(%vs, %one) {axis = 0} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %vn1 = "onnx.Unsqueeze"(%vn, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %vt = "onnx.Concat"(%lead, %vn1, %hd) {axis = 0} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
  %v4 = "onnx.Reshape"(%v, %vt) : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x2x2xf32>
  %vh = "onnx.Transpose"(%v4) {perm = [0, 2, 1, 3]} : (tensor<1x?x2x2xf32>) -> tensor<1x2x?x2xf32>
  %s = "onnx.MatMul"(%qhs, %kt) : (tensor<1x2x?x2xf32>, tensor<1x2x2x?xf32>) -> tensor<1x2x?x?xf32>
  %p = "onnx.Softmax"(%s) {axis = -1} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %zero = "onnx.Constant"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %pz = "onnx.Where"(%pad, %zero, %p) : (tensor<1x1x1x?xi1>, tensor<f32>, tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = "onnx.MatMul"(%pz, %vh) : (tensor<1x2x?x?xf32>, tensor<1x2x?x2xf32>) -> tensor<1x2x?x2xf32>
  %ot = "onnx.Transpose"(%o) {perm = [0, 2, 1, 3]} : (tensor<1x2x?x2xf32>) -> tensor<1x?x2x2xf32>
  %os = "onnx.Shape"(%ot) : (tensor<1x?x2x2xf32>) -> tensor<4xi64>
  %on = "onnx.Gather"(%os, %one) {axis = 0} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %on1 = "onnx.Unsqueeze"(%on, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %width = "onnx.Constant"() {value = dense<[4]> : tensor<1xi64>} : () -> tensor<1xi64>
  %mt = "onnx.Concat"(%lead, %on1, %width) {axis = 0} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %y = "onnx.Reshape"(%ot, %mt) : (tensor<1x?x2x2xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
  "func.return"(%y) : (tensor<1x?x4xf32>) -> ()
}) {function_type = (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x1x1x?xi1>) -> tensor<1x?x4xf32>, sym_name = "dynamic"} : () -> ()
// CHECK-LABEL: sym_name = "dynamic"

// A softmax over scores that are not Q·Kᵀ stays, and debug-patterns says why.
// CHECK: "onnx.Softmax"
// NOTE: note: pattern FuseAttention did not match onnx.Softmax at {{.*}}: the softmax input is not (masked, scaled) MatMul(Q, K^T) (argument #0)
"func.func"() ({
^bb0(%x: tensor<2x5xf32>):
  %y = "onnx.Softmax"(%x) {axis = -1} : (tensor<2x5xf32>) -> tensor<2x5xf32>
  "func.return"(%y) : (tensor<2x5xf32>) -> ()
}) {function_type = (tensor<2x5xf32>) -> tensor<2x5xf32>, sym_name = "plain_softmax"} : () -> ()
// CHECK-LABEL: sym_name = "plain_softmax"
