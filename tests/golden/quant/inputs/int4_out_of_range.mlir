"func.func"() ({
^bb0(%x: tensor<4x3xf32>):
  %n = "onnx.NoValue"() : () -> none
  %y = "quant.linear"(%x, %n) {array_rows = 256, format = "int4", scale = dense<0.5> : tensor<2x2xf32>, weights = dense<8> : tensor<2x2x3xi8>} : (tensor<4x3xf32>, none) -> tensor<4x2xf32>
  "func.return"(%y) : (tensor<4x2xf32>) -> ()
}) {function_type = (tensor<4x3xf32>) -> tensor<4x2xf32>, sym_name = "main"} : () -> ()
