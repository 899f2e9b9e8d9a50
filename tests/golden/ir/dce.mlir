// RUN: imcc-opt %s --dce | filecheck %s

// A dead chain of pure ops disappears in one pass; effects stay.
"func.func"() ({
^bb0(%a: tensor<2xf32>):
  %0 = "test.add"(%a, %a) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %1 = "test.add"(%0, %0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  "test.effect"(%a) : (tensor<2xf32>) -> ()
  "func.return"(%a) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"} : () -> ()

// CHECK-NOT: test.add
// CHECK: "test.effect"(%arg0)
// CHECK-NEXT: "func.return"(%arg0)
