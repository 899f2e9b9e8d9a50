// RUN: not imcc-opt %S/inputs/float_input_layer.mlir -p combined-stationary-map 2>&1 | filecheck %s --check-prefix=FLOAT
// RUN: not imcc-opt %S/inputs/int4_on_fat.mlir -p combined-stationary-map 2>&1 | filecheck %s --check-prefix=CELLS
// RUN: not imcc-opt %S/inputs/adc_mismatch.mlir -p combined-stationary-map 2>&1 | filecheck %s --check-prefix=ADC
// RUN: not imcc-opt %S/inputs/dynamic_shape.mlir -p nonlinear-offload 2>&1 | filecheck %s --check-prefix=DYN
// RUN: not imcc-opt %S/inputs/unplaced.mlir -p imc-to-isa 2>&1 | filecheck %s --check-prefix=UNPLACED

// Every refusal names the op and its node and says what to do; nothing else is printed.
// FLOAT: error: layer 'head' takes float inputs (the ideal analog layer): the arrays need DAC codes; run quantize-activations
// CELLS: error: layer 'head' has weights in 5..5; the arrays of target 'fat' hold -1..1
// ADC: error: layer 'head' was quantized for exact readout, but the arrays of target 'cluster' give ADC readings of 8 bits: quantize for this target
// DYN: error: 'onnx.Relu' (node 'relu') has a result of shape tensor<?x3xf32> that depends on the input values
// UNPLACED: error: 'imc.kernel' still has unallocated buffers: run combined-stationary-map and plan-memory first
// FLOAT-NOT: Traceback
