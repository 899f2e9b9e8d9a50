// RUN: imcc-opt %s -p combined-stationary-map | filecheck %s
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false} | filecheck %s --check-prefix=ONE

// A ternary layer of 8 inputs and 4 outputs read by an 8-bit ADC: one window on array 0,
// programmed before the barrier that starts inference; one MVM job per input row; the readout
// scales by column scale x input scale and adds the bias. With free arrays the layer (2 jobs)
// gets a replica, each copy taking one row.
// CHECK: %[[W:.*]] = "imc.weights"() {array = 0, cells = dense_resource<fc.w0> : tensor<8x4xi8>, col0 = 0, fmt = "t2", layer = "fc", row0 = 0} : () -> !imc.window<8x4>
// CHECK: %[[W2:.*]] = "imc.weights"() {array = 1, cells = dense_resource<fc.w0>
// CHECK: "imc.barrier"() {reason = "weights resident"}
// CHECK: %[[A:.*]] = "imc.empty"() {buffers = ?} : () -> tensor<2x4xi32>
// CHECK: %[[M:.*]] = "imc.mvm"(%arg0, %[[W]], %[[A]]) {acc_mode = false, adc_shift = 1, buffers = ?, dst_col = 0, dst_row = 0, inner_stride = 8, layer = "fc", n_inner = 1, n_outer = 1, outer_stride = 0, seg_count = 1, seg_len = 8, seg_stride = 0, x_offset = 0}
// CHECK: %[[M2:.*]] = "imc.mvm"(%arg0, %[[W2]], %[[M]]) {{.*}}dst_row = 1{{.*}}x_offset = 8}
// CHECK: "imc.requant"(%[[M2]], %{{.*}}) {bias = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>, buffers = ?, hi = inf, layer = "fc", lo = -inf, ncores = 8, planes = 1, scale = dense<[0.05, 0.1, 0.05, 0.1]> : tensor<4xf32>, unit = "cluster", zp = 0}
// CHECK-NOT: quant.linear
// CHECK: imc.mapping = {arrays_available = 128, arrays_needed = 1, arrays_used = 2, epochs = 1, notes = ["layer 'fc' replicated 2x"]
// ONE: "imc.mvm"{{.*}}n_inner = 2
// ONE-NOT: "imc.mvm"
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: tensor<2x8xi8>):
    %n = "onnx.NoValue"() : () -> none
    %y = "quant.linear"(%x, %n) {adc_bits = 8, adc_group = 256, adc_shift = dense<1> : tensor<1x1x1x1xi64>, array_rows = 256, bias = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>, format = "ternary", input_scale = 0.1 : f32, input_zero_point = 0, scale = dense<[[0.5, 1.0, 0.5, 1.0]]> : tensor<1x4xf32>, weights = dense<[[[1, 0, -1, 1, 0, 0, 1, -1], [0, 1, 1, 0, -1, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1, 1], [-1, 0, 0, 0, 0, 0, 0, 1]]]> : tensor<1x4x8xi8>} : (tensor<2x8xi8>, none) -> tensor<2x4xf32> loc("fc")
    "func.return"(%y) : (tensor<2x4xf32>) -> ()
  }) {arg_names = ["x"], function_type = (tensor<2x8xi8>) -> tensor<2x4xf32>, result_names = ["y"], sym_name = "main"} : () -> ()
}) {imcc.target = "cluster", onnx.opset = 17} : () -> ()
