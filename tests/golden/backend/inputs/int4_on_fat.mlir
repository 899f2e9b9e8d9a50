"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: tensor<2x3xi8>):
    %n = "onnx.NoValue"() : () -> none
    %y = "quant.linear"(%x, %n) {array_rows = 256, format = "int4", input_scale = 0.1 : f32, input_zero_point = 0, scale = dense<0.5> : tensor<2x2xf32>, weights = dense<5> : tensor<2x2x3xi8>} : (tensor<2x3xi8>, none) -> tensor<2x2xf32> loc("head")
    "func.return"(%y) : (tensor<2x2xf32>) -> ()
  }) {function_type = (tensor<2x3xi8>) -> tensor<2x2xf32>, sym_name = "main"} : () -> ()
}) {imcc.target = "fat", onnx.opset = 17} : () -> ()
