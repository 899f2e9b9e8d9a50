// RUN: imcc-opt %s --print-debuginfo | filecheck %s

// Nested regions see enclosing values; locations survive with --print-debuginfo.
"func.func"() ({
^bb0(%a: tensor<2xf32>):
  %w = "test.wrap"() ({
    %0 = "test.add"(%a, %a) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> loc("inner_add")
    "test.yield"(%0) : (tensor<2xf32>) -> ()
  }) : () -> tensor<2xf32>
  "func.return"(%w) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"} : () -> ()

// CHECK: %0 = "test.wrap"() ({
// CHECK-NEXT: %1 = "test.add"(%arg0, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> loc("inner_add")
// CHECK-NEXT: "test.yield"(%1)
// CHECK-NEXT: }) : () -> tensor<2xf32> loc("{{.*}}regions.mlir":6:
