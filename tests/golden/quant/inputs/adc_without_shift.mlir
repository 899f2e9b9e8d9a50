"func.func"() ({
^bb0(%x: tensor<4x3xi8>):
  %n = "onnx.NoValue"() : () -> none
  %y = "quant.linear"(%x, %n) {adc_bits = 8, adc_group = 256, array_rows = 256, format = "ternary", input_scale = 0.1 : f32, scale = dense<0.5> : tensor<1x2xf32>, weights = dense<1> : tensor<1x2x3xi8>} : (tensor<4x3xi8>, none) -> tensor<4x2xf32>
  "func.return"(%y) : (tensor<4x2xf32>) -> ()
}) {function_type = (tensor<4x3xi8>) -> tensor<4x2xf32>, sym_name = "main"} : () -> ()
