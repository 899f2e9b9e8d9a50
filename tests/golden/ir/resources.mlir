// RUN: imcc-opt %s | filecheck %s
// RUN: imcc-opt %s --elide-resources | filecheck %s --check-prefix=ELIDE

// Large tensors live in the resource section, shared when identical.
"func.func"() ({
  %0 = "test.constant"() {value = dense_resource<w.0> : tensor<5x4xi8>} : () -> tensor<5x4xi8>
  %1 = "test.constant"() {value = dense_resource<w.1> : tensor<5x4xi8>} : () -> tensor<5x4xi8>
  "func.return"(%0, %1) : (tensor<5x4xi8>, tensor<5x4xi8>) -> ()
}) {function_type = () -> (tensor<5x4xi8>, tensor<5x4xi8>), sym_name = "f"} : () -> ()

{-#
  dialect_resources: {
    builtin: {
      w.0: "0x040000000001020304050607080900010203040506070809",
      w.1: "0x040000000001020304050607080900010203040506070809"
    }
  }
#-}

// CHECK: value = dense_resource<w.0> : tensor<5x4xi8>
// CHECK: value = dense_resource<w.0> : tensor<5x4xi8>
// CHECK: dialect_resources
// CHECK-NEXT: builtin
// CHECK-NEXT: w.0: "0x040000000001020304050607080900010203040506070809"
// CHECK-NEXT: }
// ELIDE: dense_resource<__elided__> : tensor<5x4xi8>
// ELIDE-NOT: dialect_resources
