"func.func"() ({
^bb0(%arg0: tensor<2xf32>):
  "func.return"(%arg0) : (tensor<2xf32>) -> ()
  "test.effect"(%arg0) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"} : () -> ()
