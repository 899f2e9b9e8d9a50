// RUN: imcc %S/Inputs/optional_io.onnxtxt --emit=onnx --pass-pipeline '' | filecheck %s
// RUN: imcc %S/Inputs/optional_io.onnxtxt --emit onnx | filecheck %s --check-prefix=CANON

// CHECK:      %1 = "onnx.NoValue"() : () -> none
// CHECK-NEXT: %2 = "onnx.Clip"(%arg0, %1, %0) : (tensor<1x1x4x4xf32>, none, tensor<f32>) -> tensor<1x1x4x4xf32>
// CHECK-NEXT: %3:2 = "onnx.Dropout"(%2, %1, %1) : (tensor<1x1x4x4xf32>, none, none) -> (tensor<1x1x4x4xf32>, tensor<1x1x4x4xi1>)
// CHECK-NEXT: %4:2 = "onnx.MaxPool"(%3#0) {{.*}} : (tensor<1x1x4x4xf32>) -> (tensor<1x1x2x2xf32>, none)

// Inference Dropout is the identity, so canonicalization drops it.
// CANON-NOT: onnx.Dropout
// CANON:     "onnx.MaxPool"(%2)
