"func.func"() ({
  %0 = "test.constant"() : () -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) {function_type = () -> tensor<2xf32>, sym_name = "f"} : () -> ()
