"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: tensor<?x3xf32>):
    %y = "onnx.Relu"(%x) : (tensor<?x3xf32>) -> tensor<?x3xf32> loc("relu")
    "func.return"(%y) : (tensor<?x3xf32>) -> ()
  }) {function_type = (tensor<?x3xf32>) -> tensor<?x3xf32>, sym_name = "main"} : () -> ()
}) {imcc.target = "cluster", onnx.opset = 17} : () -> ()
