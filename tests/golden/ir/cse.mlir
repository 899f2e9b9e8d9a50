// RUN: imcc-opt %s --cse | filecheck %s
// RUN: imcc-opt %s -p 'cse{max-iter=3}' | filecheck %s

// Identical pure ops merge; side-effecting ones stay.
"func.func"() ({
^bb0(%a: tensor<2xf32>, %b: tensor<2xf32>):
  %0 = "test.add"(%a, %b) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %1 = "test.add"(%a, %b) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %2 = "test.add"(%0, %1) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  "test.effect"(%2) : (tensor<2xf32>) -> ()
  "test.effect"(%2) : (tensor<2xf32>) -> ()
  "func.return"(%2) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"} : () -> ()

// CHECK: %0 = "test.add"(%arg0, %arg1)
// CHECK-NOT: "test.add"(%arg0, %arg1)
// CHECK-NEXT: %1 = "test.add"(%0, %0)
// CHECK-NEXT: "test.effect"(%1)
// CHECK-NEXT: "test.effect"(%1)
// CHECK-NEXT: "func.return"(%1)
