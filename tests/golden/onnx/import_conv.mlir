// RUN: imcc %S/Inputs/conv.onnxtxt --emit onnx | filecheck %s

// Large constants print as resources named after the initializer; the absent bias is the
// function's one NoValue; every schema attribute is present, defaults filled in.
// CHECK: %0 = "onnx.Constant"() {value = dense_resource<conv1_w> : tensor<2x2x3x3xf32>} : () -> tensor<2x2x3x3xf32>
// CHECK: %1 = "onnx.NoValue"() : () -> none
// CHECK: %2 = "onnx.Conv"(%arg0, %0, %1) {auto_pad = "NOTSET", group = 1, pads = [1, 1, 1, 1]} : (tensor<1x2x4x4xf32>, tensor<2x2x3x3xf32>, none) -> tensor<1x2x4x4xf32>
// CHECK: dialect_resources: {
// CHECK-NEXT: builtin: {
// CHECK-NEXT: conv1_w: "0x04000000{{[0-9A-F]+}}"
