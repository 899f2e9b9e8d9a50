// RUN: imcc-opt %s --allow-unregistered-dialect | filecheck %s
// RUN: imcc-opt %s --allow-unregistered-dialect | imcc-opt --allow-unregistered-dialect | filecheck %s

// Every attribute kind and type prints in its canonical generic form.
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%a: tensor<1x3xf32>, %b: tensor<?x3xi8>):
    %x = "test.op"(%a) {int = 3, i32 = 7 : i32, flt = 1.5, f64 = 2.5 : f64, str = "q\"uote\n", arr = [1, 2.0, "x"], darr = array<i64: 1, -2>, flag, yes = true, dict = {z = 1, a = 2}, ty = tensor<2x?xi64>, sym = @main, da = #imc.tile<3x4>, small = dense<[[1.0, -2.0, 3.0]]> : tensor<1x3xf32>, splat = dense<0.5> : tensor<64x64xf32>, nan = nan, inf = -inf, tiny = 1.0e-05, todo = ?, slots = [?, 4]} : (tensor<1x3xf32>) -> tensor<1x3xf32>
    %p:2 = "test.pair"(%x, %b) : (tensor<1x3xf32>, tensor<?x3xi8>) -> (tensor<1x3xf32>, !imc.tile<a<b>>)
    "func.return"(%p#0) : (tensor<1x3xf32>) -> ()
  }) {function_type = (tensor<1x3xf32>, tensor<?x3xi8>) -> tensor<1x3xf32>, sym_name = "main"} : () -> ()
}) : () -> ()

// CHECK: "builtin.module"() ({
// CHECK-NEXT: "func.func"() ({
// CHECK-NEXT: ^bb0(%arg0: tensor<1x3xf32>, %arg1: tensor<?x3xi8>):
// CHECK-NEXT: %0 = "test.op"(%arg0) {arr = [1, 2.0, "x"], da = #imc.tile<3x4>, darr = array<i64: 1, -2>, dict = {a = 2, z = 1}, f64 = 2.5 : f64, flag, flt = 1.5, i32 = 7 : i32, inf = -inf, int = 3, nan = nan, slots = [?, 4], small = dense<{{\[\[}}1.0, -2.0, 3.0]]> : tensor<1x3xf32>, splat = dense<0.5> : tensor<64x64xf32>, str = "q\"uote\n", sym = @main, tiny = 1.0e-05, todo = ?, ty = tensor<2x?xi64>, yes = true} : (tensor<1x3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT: %1:2 = "test.pair"(%0, %arg1) : (tensor<1x3xf32>, tensor<?x3xi8>) -> (tensor<1x3xf32>, !imc.tile<a<b>>)
// CHECK-NEXT: "func.return"(%1#0) : (tensor<1x3xf32>) -> ()
// CHECK-NEXT: }) {function_type = (tensor<1x3xf32>, tensor<?x3xi8>) -> tensor<1x3xf32>, sym_name = "main"} : () -> ()
// CHECK-NEXT: }) : () -> ()
