// RUN: not imcc-opt %S/inputs/bad_syntax.mlir 2>&1 | filecheck %s --check-prefix=SYNTAX
// RUN: not imcc-opt %S/inputs/unknown_op.mlir 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not imcc-opt %S/inputs/undefined_value.mlir 2>&1 | filecheck %s --check-prefix=UNDEF
// RUN: not imcc-opt %S/inputs/type_mismatch.mlir 2>&1 | filecheck %s --check-prefix=TYPE
// RUN: not imcc-opt %S/inputs/unknown_op.mlir -p nosuchpass 2>&1 | filecheck %s --check-prefix=PASS
// RUN: not imcc-opt %S/inputs/bad_syntax.mlir -p 'cse{max-iter=zero}' 2>&1 | filecheck %s --check-prefix=OPT

// SYNTAX: bad_syntax.mlir:3:25: error: unexpected '%arg0', expected ')' or ','
// SYNTAX-NEXT: {{.*}}"test.add"(%arg0 %arg0)
// SYNTAX-NEXT: {{^ +\^$}}
// SYNTAX-NOT: Traceback

// UNKNOWN: unknown_op.mlir:3:8: error: unknown operation 'onnx.Frobnicate'
// UNKNOWN-NOT: Traceback

// UNDEF: undefined_value.mlir:3:26: error: use of undeclared SSA value name %7

// TYPE: type_mismatch.mlir:3:19: error: use of value '%arg0' expects type tensor<3xf32>, but it was defined as tensor<2xf32>

// PASS: <pipeline>:1:1: error: unknown pass 'nosuchpass'

// OPT: <pipeline>:1:1: error: option 'max-iter' of pass 'cse' expects int, got 'zero'
