// RUN: not imcc-opt %S/inputs/bad_return.mlir 2>&1 | filecheck %s --check-prefix=RET
// RUN: not imcc-opt %S/inputs/bad_operand_count.mlir 2>&1 | filecheck %s --check-prefix=COUNT
// RUN: not imcc-opt %S/inputs/missing_attr.mlir 2>&1 | filecheck %s --check-prefix=ATTR
// RUN: not imcc-opt %S/inputs/terminator_in_middle.mlir 2>&1 | filecheck %s --check-prefix=TERM

// RET: bad_return.mlir:3:3: error: 'func.return' returns (tensor<2xf32>) but function 'f' declares (tensor<4xf32>)
// RET-NEXT: "func.return"(%arg0)
// RET-NEXT: {{^  \^$}}
// COUNT: bad_operand_count.mlir:3:8: error: 'test.add' expects 2 operand(s), got 1
// ATTR: missing_attr.mlir:2:8: error: 'test.constant' requires attribute 'value'
// TERM: terminator_in_middle.mlir:3:3: error: 'func.return' is a terminator but is not the last op of its block
