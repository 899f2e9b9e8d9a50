// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload | filecheck %s --check-prefix=OFFLOAD
// RUN: imcc-opt %s -p combined-stationary-map{replicate=false},nonlinear-offload,fold-layout | filecheck %s --check-prefix=LAYOUT

// A residual block: conv1's result feeds conv2 (through the DAC's quantization) and the
// residual add with conv2's result; the sum feeds conv3. Mapping leaves each convolution
// between an NCHW->NHWC and an NHWC->NCHW transpose, conv1's output one shared by two users.
// OFFLOAD-COUNT-6: kernel = "onnx.Transpose"
// fold-layout gives the shared transpose one copy per user: the quantization's copy cancels
// against conv2's input transpose, the add's copy and conv2's output transpose sink below the
// add together and cancel against conv3's. Only the input's and the output's remain, and the
// add runs channels-last.
// LAYOUT: kernel = "onnx.Transpose"{{.*}}perm = [0, 2, 3, 1]
// LAYOUT: kernel = "onnx.Add"{{.*}} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// LAYOUT: kernel = "onnx.Transpose"{{.*}}perm = [0, 3, 1, 2]
// LAYOUT-NOT: kernel = "onnx.Transpose"

"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: tensor<1x2x4x4xf32>):
    %q = "quant.quantize"(%x) {bits = 8, scale = 0.1 : f32, zero_point = 0} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xui8> loc("q1")
    %c1 = "quant.conv"(%q) {adc_bits = 8, adc_group = 256, adc_shift = dense<1> : tensor<1x1x1x1xi64>, array_rows = 2, dilations = [1, 1], format = "ternary", input_scale = 0.1 : f32, input_zero_point = 0, kernel_shape = [1, 1], pads = [0, 0, 0, 0], scale = dense<[[0.5, 0.25]]> : tensor<1x2xf32>, strides = [1, 1], weights = dense<[[[1, -1], [0, 1]]]> : tensor<1x2x2xi8>} : (tensor<1x2x4x4xui8>) -> tensor<1x2x4x4xf32> loc("conv1")
    %q2 = "quant.quantize"(%c1) {bits = 8, scale = 0.05 : f32, zero_point = 0} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xi8> loc("q2")
    %c2 = "quant.conv"(%q2) {adc_bits = 8, adc_group = 256, adc_shift = dense<1> : tensor<1x1x1x1xi64>, array_rows = 2, dilations = [1, 1], format = "ternary", input_scale = 0.05 : f32, input_zero_point = 0, kernel_shape = [1, 1], pads = [0, 0, 0, 0], scale = dense<[[0.5, 0.5]]> : tensor<1x2xf32>, strides = [1, 1], weights = dense<[[[1, 1], [-1, 1]]]> : tensor<1x2x2xi8>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xf32> loc("conv2")
    %s = "onnx.Add"(%c1, %c2) : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("add")
    %q3 = "quant.quantize"(%s) {bits = 8, scale = 0.05 : f32, zero_point = 0} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xi8> loc("q3")
    %c3 = "quant.conv"(%q3) {adc_bits = 8, adc_group = 256, adc_shift = dense<1> : tensor<1x1x1x1xi64>, array_rows = 2, dilations = [1, 1], format = "ternary", input_scale = 0.05 : f32, input_zero_point = 0, kernel_shape = [1, 1], pads = [0, 0, 0, 0], scale = dense<[[0.5, 0.5]]> : tensor<1x2xf32>, strides = [1, 1], weights = dense<[[[0, 1], [1, 1]]]> : tensor<1x2x2xi8>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xf32> loc("conv3")
    "func.return"(%c3) : (tensor<1x2x4x4xf32>) -> ()
  }) {arg_names = ["x"], function_type = (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>, result_names = ["y"], sym_name = "main"} : () -> ()
}) {imcc.target = "cluster", onnx.opset = 17} : () -> ()
