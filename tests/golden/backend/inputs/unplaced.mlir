"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: tensor<2x3xf32>):
    %y = "imc.kernel"(%x) {buffers = ?, kernel = "onnx.Relu", ncores = 8, opset = 17, params = {}, unit = "cluster"} : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("relu")
    "func.return"(%y) : (tensor<2x3xf32>) -> ()
  }) {function_type = (tensor<2x3xf32>) -> tensor<2x3xf32>, sym_name = "main"} : () -> ()
}) {imcc.target = "cluster", onnx.opset = 17} : () -> ()
