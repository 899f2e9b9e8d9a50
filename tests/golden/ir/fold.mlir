// RUN: imcc-opt %s --canonicalize | filecheck %s
// RUN: imcc-opt %s --fold-constants | filecheck %s

// Constant operands fold through the op's fold hook into a new constant.
"func.func"() ({
  %0 = "test.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %1 = "test.constant"() {value = dense<[10.0, 20.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %2 = "test.add"(%0, %1) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %3 = "test.add"(%2, %0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%3) : (tensor<2xf32>) -> ()
}) {function_type = () -> tensor<2xf32>, sym_name = "f"} : () -> ()

// CHECK: %0 = "test.constant"() {value = dense<[12.0, 24.0]> : tensor<2xf32>}
// CHECK-NOT: test.add
// CHECK: "func.return"(%0)
