"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: tensor<2x3xf32>):
    %n = "onnx.NoValue"() : () -> none
    %y = "quant.linear"(%x, %n) {array_rows = 256, format = "ternary", scale = dense<0.5> : tensor<1x2xf32>, weights = dense<1> : tensor<1x2x3xi8>} : (tensor<2x3xf32>, none) -> tensor<2x2xf32> loc("head")
    "func.return"(%y) : (tensor<2x2xf32>) -> ()
  }) {function_type = (tensor<2x3xf32>) -> tensor<2x2xf32>, sym_name = "main"} : () -> ()
}) {imcc.target = "cluster", onnx.opset = 17} : () -> ()
