// RUN: imcc-opt %s -p combined-stationary-map{replicate=false} | filecheck %s --check-prefix=MAP
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload | filecheck %s --check-prefix=OFFLOAD
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload,fold-layout | filecheck %s --check-prefix=LAYOUT
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload,fold-layout,fuse-requant-activation | filecheck %s --check-prefix=FUSE
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload,fold-layout,fuse-requant-activation,tile-layers{budget=300} | filecheck %s --check-prefix=TILE
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload,fold-layout,fuse-requant-activation,tile-layers{budget=300},plan-memory,schedule,imc-to-isa | filecheck %s --check-prefix=TILEISA
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload,fold-layout,fuse-requant-activation,plan-memory,schedule | filecheck %s --check-prefix=PLACED
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload,fold-layout,fuse-requant-activation,plan-memory,schedule,imc-to-isa | filecheck %s --check-prefix=ISA

// quantize -> 3x3 conv (pad 1) on 2 input channels -> ReLU -> quantize -> 1x1 conv, one image.
// The conv reads an NHWC image padded by the DMA with the zero point; its fan-in (3·3·2 = 18)
// is one row tile; one gather row (kernel row) is kw·C = 6 contiguous codes, the image row
// stride Wp·C = 12.
// MAP: "imc.kernel"(%{{.*}}) {buffers = ?, kernel = "onnx.Transpose", ncores = 8, opset = 17, params = {perm = [0, 2, 3, 1]}, unit = "cluster"} : (tensor<1x2x4x4xui8>) -> tensor<1x4x4x2xui8>
// MAP: "imc.pad"(%{{.*}}) {buffers = ?, layer = "conv1", pads = [1, 1, 1, 1], unit = "dma", value = 0} : (tensor<1x4x4x2xui8>) -> tensor<1x6x6x2xui8>
// MAP: "imc.mvm"{{.*}}inner_stride = 2, layer = "conv1", n_inner = 4, n_outer = 4, outer_stride = 12, seg_count = 3, seg_len = 6, seg_stride = 12, x_offset = 0}
// MAP: "imc.requant"{{.*}} -> tensor<1x4x4x3xf32>
// MAP: "imc.kernel"({{.*}}) {buffers = ?, kernel = "onnx.Transpose"{{.*}}perm = [0, 3, 1, 2]
// MAP: "onnx.Relu"
// OFFLOAD-NOT: "onnx.Relu"
// OFFLOAD-NOT: "quant.quantize"
// OFFLOAD: "imc.quant"(%arg0) {buffers = ?, hi = 255, layer = "q1", lo = 0, ncores = 8, scale = 0.1, unit = "cluster", zp = 0}
// OFFLOAD: "imc.kernel"({{.*}}) {buffers = ?, kernel = "onnx.Relu", layer = "relu1"
// The transposes between the two convolutions meet and cancel; only the input's and the
// output's remain.
// LAYOUT-COUNT-2: kernel = "onnx.Transpose"
// LAYOUT-NOT: kernel = "onnx.Transpose"
// FUSE-NOT: "onnx.Relu"
// FUSE: "imc.requant"{{.*}}layer = "conv1", lo = 0.0
// With a 300-byte tile budget (two input tiles, accumulator and output tile) conv1 (72 B in,
// 192 B accumulator, 192 B out) runs in two bands of two output rows; each band brings its four input rows (the 3x3 kernel's halo) by DMA, the
// second band's before the first band's jobs (double buffering), and its output goes back into
// the layer's output at its rows.
// TILE: %[[OUT:[0-9]+]] = "imc.empty"() {buffers = ?} : () -> tensor<1x4x4x3xf32>
// TILE: %[[B0:[0-9]+]] = "imc.extract"(%[[X:[0-9]+]]) {buffers = ?, layer = "conv1", offsets = [0, 0, 0, 0], unit = "dma"} : (tensor<1x6x6x2xui8>) -> tensor<1x4x6x2xui8>
// TILE: %[[B1:[0-9]+]] = "imc.extract"(%[[X]]) {buffers = ?, layer = "conv1", offsets = [0, 2, 0, 0], unit = "dma"} : (tensor<1x6x6x2xui8>) -> tensor<1x4x6x2xui8>
// TILE: "imc.mvm"(%[[B0]], {{.*}}n_outer = 2{{.*}}x_offset = 0} : (tensor<1x4x6x2xui8>, !imc.window<18x3>, tensor<8x3xi32>)
// TILE: %[[T0:[0-9]+]] = "imc.requant"{{.*}} -> tensor<1x2x4x3xf32>
// TILE: %[[O0:[0-9]+]] = "imc.insert"(%[[T0]], %[[OUT]]) {buffers = ?, layer = "conv1", offsets = [0, 0, 0, 0], unit = "dma"}
// TILE: "imc.mvm"(%[[B1]],
// TILE: "imc.insert"({{.*}}, %[[O0]]) {buffers = ?, layer = "conv1", offsets = [0, 2, 0, 0], unit = "dma"}
// Each band is one 2-D DMA: 4 rows of 6·2 bytes from the padded image (row 2 starts 24 bytes in).
// TILEISA: "isa.dma"() {dst_addr = {{[0-9]+}}, dst_mem = "L1", {{.*}}isa.from = "imc.extract", isa.layer = "conv1", row_bytes = 48, rows = 1, src_addr = {{[0-9]+}}, src_mem = "L2"
// TILEISA: "isa.dma"() {dst_addr = {{[0-9]+}}, dst_mem = "L1", {{.*}}isa.from = "imc.extract", isa.layer = "conv1", row_bytes = 48, rows = 1, src_addr = {{[0-9]+}}, src_mem = "L2"
// TILEISA: "isa.dma"() {dst_addr = {{[0-9]+}}, dst_mem = "L2", {{.*}}isa.from = "imc.insert", isa.layer = "conv1", row_bytes = 96, rows = 1
// PLACED-NOT: = ?
// PLACED: "imc.mvm"{{.*}}buffers = [["L1", {{[0-9]+}}]]
// ISA: "isa.tensor"() {addr = 0, dtype = "f32", mem = "L2", name = "x", role = "input", shape = [1, 2, 4, 4]}
// ISA: "isa.tensor"() {{.*}}name = "y", role = "output"
// ISA: "isa.xb.prog"() {array = 0, col0 = 0, cols = 3, fmt = "t2", isa.from = "imc.weights", isa.layer = "conv1", row0 = 0, rows = 18
// ISA: "isa.barrier"
// ISA: "isa.cl.quant"
// ISA: "isa.fill"() {bytes = 72
// ISA: "isa.dma"() {{.*}}row_bytes = 8, rows = 4, src_addr = {{.*}}, src_mem = "L1", src_stride = 8}
// ISA: "isa.xb.mvm"() {{.*}}adc_shift = 2{{.*}}n_inner = 4, n_outer = 4, outer_stride = 12
// ISA: "isa.cl.requant"() {{.*}}lo = 0.0
// ISA: "isa.halt"
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: tensor<1x2x4x4xf32>):
    %q = "quant.quantize"(%x) {bits = 8, scale = 0.1 : f32, zero_point = 0} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xui8> loc("q1")
    %c = "quant.conv"(%q) {adc_bits = 8, adc_group = 256, adc_shift = dense<2> : tensor<1x1x1x1xi64>, array_rows = 18, dilations = [1, 1], format = "ternary", input_scale = 0.1 : f32, input_zero_point = 0, kernel_shape = [3, 3], pads = [1, 1, 1, 1], scale = dense<[[0.5, 0.25, 0.125]]> : tensor<1x3xf32>, strides = [1, 1], weights = dense<[[[1, 0, -1, 1, 0, 0, 1, -1, 0, 1, 1, 0, -1, 0, 0, 1, 1, 0], [0, 1, 1, 0, -1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [-1, 0, 0, 0, 0, 0, 0, 1, 0, -1, 0, 1, 0, -1, 0, 1, 0, 0]]]> : tensor<1x3x18xi8>} : (tensor<1x2x4x4xui8>) -> tensor<1x3x4x4xf32> loc("conv1")
    %r = "onnx.Relu"(%c) : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32> loc("relu1")
    %q2 = "quant.quantize"(%r) {bits = 8, scale = 0.05 : f32, zero_point = 0} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xui8> loc("q2")
    %c2 = "quant.conv"(%q2) {adc_bits = 8, adc_group = 256, adc_shift = dense<1> : tensor<1x1x1x1xi64>, array_rows = 3, dilations = [1, 1], format = "ternary", input_scale = 0.05 : f32, input_zero_point = 0, kernel_shape = [1, 1], pads = [0, 0, 0, 0], scale = dense<[[0.5, 0.5]]> : tensor<1x2xf32>, strides = [1, 1], weights = dense<[[[1, -1, 0], [0, 1, 1]]]> : tensor<1x2x3xi8>} : (tensor<1x3x4x4xui8>) -> tensor<1x2x4x4xf32> loc("conv2")
    "func.return"(%c2) : (tensor<1x2x4x4xf32>) -> ()
  }) {arg_names = ["x"], function_type = (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>, result_names = ["y"], sym_name = "main"} : () -> ()
}) {imcc.target = "cluster", onnx.opset = 17} : () -> ()
