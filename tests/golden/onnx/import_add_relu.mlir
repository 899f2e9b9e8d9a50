// RUN: imcc %S/Inputs/add_relu.onnxtxt --emit onnx 2>%t.err | filecheck %s
// RUN: filecheck %s --check-prefix=NOTE < %t.err
// RUN: imcc %S/Inputs/add_relu.onnxtxt --emit onnx --input-shape x=4x3 2>/dev/null | filecheck %s --check-prefix=PINNED
// RUN: imcc %S/Inputs/add_relu.onnxtxt --emit=onnx --pass-pipeline '' --print-debuginfo 2>/dev/null | filecheck %s --check-prefix=RAW

// The graph becomes @main; the initializer a constant; Identity is canonicalized away.
// CHECK:      "builtin.module"() ({
// CHECK-NEXT:   "func.func"() ({
// CHECK-NEXT:   ^bb0(%arg0: tensor<1x3xf32>):
// CHECK-NEXT:     %0 = "onnx.Constant"() {value = dense<[1.0, -2.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
// CHECK-NEXT:     %1 = "onnx.Add"(%arg0, %0) : (tensor<1x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:     %2 = "onnx.Relu"(%1) : (tensor<1x3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:     "func.return"(%2) : (tensor<1x3xf32>) -> ()
// CHECK-NEXT:   }) {arg_names = ["x"], function_type = (tensor<1x3xf32>) -> tensor<1x3xf32>, result_names = ["y"], sym_name = "main"} : () -> ()
// CHECK-NEXT: }) {onnx.opset = 17} : () -> ()
// CHECK-NOT:  onnx.Identity

// The symbolic batch dimension was taken as 1, and the user is told.
// NOTE: note: input 'x': symbolic leading dimension 'N' taken as batch size 1

// PINNED: ^bb0(%arg0: tensor<4x3xf32>):
// PINNED: "onnx.Add"(%arg0, %0) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>

// Without passes the Identity is still there; every op carries its node name (or OpType_index).
// RAW: "onnx.Constant"(){{.*}} loc("bias")
// RAW: "onnx.Add"(%arg0, %0){{.*}} loc("add0")
// RAW: "onnx.Identity"(%1){{.*}} loc("Identity_1")
// RAW: "onnx.Relu"(%2){{.*}} loc("relu0")
