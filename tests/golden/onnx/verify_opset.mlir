// RUN: not imcc %s --emit onnx 2>&1 | filecheck %s

// onnx ops verify against the schema of the module's opset: Cast's 'saturate' only exists from
// opset 19, so at opset 17 it is an error pointing at the op.
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%arg0: tensor<2xf32>):
    %0 = "onnx.Cast"(%arg0) {saturate = 1, to = 10} : (tensor<2xf32>) -> tensor<2xf16>
    "func.return"(%0) : (tensor<2xf16>) -> ()
  }) {function_type = (tensor<2xf32>) -> tensor<2xf16>, sym_name = "main"} : () -> ()
}) {onnx.opset = 17} : () -> ()

// CHECK: verify_opset.mlir:8:10: error: 'onnx.Cast' (opset 17) has unknown attribute 'saturate'
// CHECK-NEXT: %0 = "onnx.Cast"
