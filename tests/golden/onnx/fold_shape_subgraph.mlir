// RUN: imcc %S/Inputs/shape_fold.onnxtxt --emit onnx | filecheck %s
// RUN: imcc %S/Inputs/shape_fold.onnxtxt --emit=onnx --pass-pipeline '' | filecheck %s --check-prefix=RAW

// With static input shapes the whole shape computation folds into one constant.
// CHECK:      ^bb0(%arg0: tensor<2x3x4xf32>):
// CHECK-NEXT:   %0 = "onnx.Constant"() {value = dense<[2, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK-NEXT:   %1 = "onnx.Reshape"(%arg0, %0) : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<2x12xf32>
// CHECK-NEXT:   "func.return"(%1)
// CHECK-NOT:  onnx.Shape

// RAW: "onnx.Shape"(%arg0) : (tensor<2x3x4xf32>) -> tensor<3xi64>
// RAW: "onnx.Concat"
