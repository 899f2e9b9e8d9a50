"""The precision passes' IR glue: calibration data, finding crossbar layers, running the
interpreter over the calibration set, building ``quant`` ops, the budget search, the report.

The numerical algorithms they apply (ternary planes, GPTQ, activation and ADC quantization, the
crossbar's arithmetic, metrics) are the sub-package ``numerics``, which never imports the IR.
"""
