// RUN: not imcc-opt %S/inputs/bad_ternary_value.mlir 2>&1 | filecheck %s --check-prefix=VALUE
// RUN: not imcc-opt %S/inputs/bad_scale_shape.mlir 2>&1 | filecheck %s --check-prefix=SCALE
// RUN: not imcc-opt %S/inputs/float_input_with_scale.mlir 2>&1 | filecheck %s --check-prefix=FLOAT
// RUN: not imcc-opt %S/inputs/adc_without_shift.mlir 2>&1 | filecheck %s --check-prefix=ADC
// RUN: not imcc-opt %S/inputs/int4_out_of_range.mlir 2>&1 | filecheck %s --check-prefix=INT4
// RUN: not imcc-opt %S/inputs/signed_zero_point.mlir 2>&1 | filecheck %s --check-prefix=ZP

// VALUE: bad_ternary_value.mlir:4:8: error: 'quant.linear' ternary weights must be in {-1, 0, 1}
// SCALE: bad_scale_shape.mlir:4:8: error: 'quant.linear' attribute 'scale' must be tensor<1x2xf32>, got tensor<2xf32>
// FLOAT: float_input_with_scale.mlir:4:8: error: 'quant.linear' a float input is the ideal analog layer: no input scale, no ADC
// ADC: adc_without_shift.mlir:4:8: error: 'quant.linear' an ADC needs adc_shift and a positive adc_group
// INT4: int4_out_of_range.mlir:4:8: error: 'quant.linear' int4 weights must be in -7..7
// ZP: signed_zero_point.mlir:3:8: error: 'quant.quantize' signed (i8) codes are symmetric: zero point must be 0, got 3
