"func.func"() ({
^bb0(%arg0: tensor<2xf32>):
  %0 = "test.add"(%arg0 %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
}) {function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"} : () -> ()
