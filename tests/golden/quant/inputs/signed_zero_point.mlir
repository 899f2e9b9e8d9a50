"func.func"() ({
^bb0(%x: tensor<4x3xf32>):
  %q = "quant.quantize"(%x) {bits = 8, scale = 0.1 : f32, zero_point = 3} : (tensor<4x3xf32>) -> tensor<4x3xi8>
  "func.return"(%q) : (tensor<4x3xi8>) -> ()
}) {function_type = (tensor<4x3xf32>) -> tensor<4x3xi8>, sym_name = "main"} : () -> ()
