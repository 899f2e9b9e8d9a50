// RUN: imcc-opt %s -p fold-onnx-constants | filecheck %s
// RUN: imcc-opt %s -p 'fold-onnx-constants{max-elements=16}' | filecheck %s --check-prefix=GUARD
// RUN: imcc-opt %s -p 'fold-onnx-constants{debug-patterns=true}' 2>&1 >/dev/null | filecheck %s --check-prefix=NOTE

// A torch-style shape sub-graph: the static dimensions of %x are read back with Shape/Gather and
// reassembled with Unsqueeze/Concat into a Reshape target. Gather(Shape(%x), 0) folds although %x
// has a dynamic dimension, because the gathered dimension is static; the dynamic one stays.
// CHECK: %[[SHAPE:.*]] = "onnx.Shape"(%arg0)
// CHECK-DAG: %[[SEQ:.*]] = "onnx.Gather"(%[[SHAPE]]
// CHECK-DAG: %[[B:.*]] = "onnx.Constant"() {value = dense<[2]> : tensor<1xi64>}
// CHECK-DAG: %[[SEQ1:.*]] = "onnx.Unsqueeze"(%[[SEQ]]
// CHECK-DAG: %[[HD:.*]] = "onnx.Constant"() {value = dense<[3, 2]> : tensor<2xi64>}
// CHECK: %[[TARGET:.*]] = "onnx.Concat"(%[[B]], %[[SEQ1]], %[[HD]])
// CHECK: "onnx.Reshape"(%arg0, %[[TARGET]])
// NOTE: note: pattern FoldOnnxOp did not match onnx.Shape at {{.*}}: the shape of operand #0 (tensor<2x?x6xf32>) is not static
"func.func"() ({
^bb0(%x: tensor<2x?x6xf32>):
  %shape = "onnx.Shape"(%x) : (tensor<2x?x6xf32>) -> tensor<3xi64>
  %i0 = "onnx.Constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %i1 = "onnx.Constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %axes = "onnx.Constant"() {value = dense<[0]> : tensor<1xi64>} : () -> tensor<1xi64>
  %b = "onnx.Gather"(%shape, %i0) {axis = 0} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %s = "onnx.Gather"(%shape, %i1) {axis = 0} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %b1 = "onnx.Unsqueeze"(%b, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %s1 = "onnx.Unsqueeze"(%s, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %h = "onnx.Constant"() {value = dense<[3]> : tensor<1xi64>} : () -> tensor<1xi64>
  %d = "onnx.Constant"() {value = dense<[2]> : tensor<1xi64>} : () -> tensor<1xi64>
  %hd = "onnx.Concat"(%h, %d) {axis = 0} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %target = "onnx.Concat"(%b1, %s1, %hd) {axis = 0} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
  %y = "onnx.Reshape"(%x, %target) {allowzero = 0} : (tensor<2x?x6xf32>, tensor<4xi64>) -> tensor<2x?x3x2xf32>
  "func.return"(%y) : (tensor<2x?x3x2xf32>) -> ()
}) {function_type = (tensor<2x?x6xf32>) -> tensor<2x?x3x2xf32>, sym_name = "shapes"} : () -> ()
// CHECK-LABEL: sym_name = "shapes"

// The additive attention mask of a fixed padding pattern folds to one constant (Unsqueeze, Cast,
// Sub, Mul on constants); the Shape of a static value is a constant too.
// CHECK-NOT: "onnx.Cast"
// CHECK-NOT: "onnx.Sub"
// CHECK: %[[MASK:.*]] = "onnx.Constant"() {value = dense<{{\[\[\[\[}}-0.0, -0.0, -3.4028235e+38]]]]> : tensor<1x1x1x3xf32>}
// CHECK: %[[SHAPE:.*]] = "onnx.Constant"() {value = dense<[1, 1, 3, 3]> : tensor<4xi64>}
// CHECK: "func.return"(%[[MASK]], %[[SHAPE]])
"func.func"() ({
^bb0(%scores: tensor<1x1x3x3xf32>):
  %keep = "onnx.Constant"() {value = dense<[[1, 1, 0]]> : tensor<1x3xi64>} : () -> tensor<1x3xi64>
  %axes = "onnx.Constant"() {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %m4 = "onnx.Unsqueeze"(%keep, %axes) : (tensor<1x3xi64>, tensor<2xi64>) -> tensor<1x1x1x3xi64>
  %mf = "onnx.Cast"(%m4) {to = 1} : (tensor<1x1x1x3xi64>) -> tensor<1x1x1x3xf32>
  %one = "onnx.Constant"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %inv = "onnx.Sub"(%one, %mf) : (tensor<f32>, tensor<1x1x1x3xf32>) -> tensor<1x1x1x3xf32>
  %min = "onnx.Constant"() {value = dense<-3.4028235e+38> : tensor<f32>} : () -> tensor<f32>
  %mask = "onnx.Mul"(%inv, %min) : (tensor<1x1x1x3xf32>, tensor<f32>) -> tensor<1x1x1x3xf32>
  %shape = "onnx.Shape"(%scores) : (tensor<1x1x3x3xf32>) -> tensor<4xi64>
  "func.return"(%mask, %shape) : (tensor<1x1x1x3xf32>, tensor<4xi64>) -> ()
}) {function_type = (tensor<1x1x3x3xf32>) -> (tensor<1x1x1x3xf32>, tensor<4xi64>), sym_name = "mask"} : () -> ()
// CHECK-LABEL: sym_name = "mask"

// The size guard: expanding a scalar to 64 elements folds by default but not with max-elements=16,
// while a Transpose as large as its input folds either way.
// CHECK-NOT: "onnx.Expand"
// CHECK-NOT: "onnx.Transpose"
// CHECK: "func.return"
// GUARD-LABEL: sym_name = "mask"
// GUARD: "onnx.Expand"
// GUARD-NOT: "onnx.Transpose"
// GUARD: "func.return"
// NOTE-NOT: did not match onnx.Expand
"func.func"() ({
  %zero = "onnx.Constant"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %shape = "onnx.Constant"() {value = dense<[8, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %big = "onnx.Expand"(%zero, %shape) : (tensor<f32>, tensor<2xi64>) -> tensor<8x8xf32>
  %w = "onnx.Constant"() {value = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %wt = "onnx.Transpose"(%w) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  "func.return"(%big, %wt) : (tensor<8x8xf32>, tensor<3x2xf32>) -> ()
}) {function_type = () -> (tensor<8x8xf32>, tensor<3x2xf32>), sym_name = "guard"} : () -> ()
