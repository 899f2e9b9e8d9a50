"func.func"() ({
^bb0(%arg0: tensor<2xf32>):
  "func.return"(%arg0) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>) -> tensor<4xf32>, sym_name = "f"} : () -> ()
