"""The numerical core of the precision passes: ternary planes, GPTQ fitting, activation and ADC
quantization, the crossbar's arithmetic, error metrics, the budget search.

Pure numpy on arrays: nothing here imports the IR (or anything else of the compiler), so every
algorithm can be tested and benchmarked on plain matrices (tests/test_layering_compiler.py
checks it). The IR glue that finds layers, runs the interpreter over calibration data and
writes ``quant`` ops lives one level up, in ``compiler/precision``.
"""

from .actquant import (
    calibrate_scale,
    dequantize,
    dynamic_row_scales,
    fake_quantize,
    int_weights,
    quantize,
    quantize_dynamic,
    scale_maxabs,
    scale_mse,
    scale_percentile,
)
from .adc import adc_codes, adc_read, calibrate_adc_shift, column_groups, round_shift, saturated
from .budget import BudgetResult, Option, exhaustive_assign, greedy_assign, total_columns
from .crossbar import crossbar_columns
from .gptq import (
    bias_correction,
    gptq_ternarize,
    hessian,
    output_error,
    output_optimal_scales,
    output_search_ternarize,
)
from .metrics import channel_relative_error, relative_error
from .planes import residual_planes, ternarize_planes
from .ternary import (
    Ternary,
    as_matrix,
    detect_ternary,
    fit_scales,
    l2_optimal_count,
    ternarize,
    ternary_pattern,
)

__all__ = [
    "BudgetResult",
    "Option",
    "Ternary",
    "adc_codes",
    "adc_read",
    "as_matrix",
    "bias_correction",
    "calibrate_adc_shift",
    "calibrate_scale",
    "channel_relative_error",
    "column_groups",
    "crossbar_columns",
    "dequantize",
    "detect_ternary",
    "dynamic_row_scales",
    "exhaustive_assign",
    "fake_quantize",
    "fit_scales",
    "gptq_ternarize",
    "greedy_assign",
    "hessian",
    "int_weights",
    "l2_optimal_count",
    "output_error",
    "output_optimal_scales",
    "output_search_ternarize",
    "quantize",
    "quantize_dynamic",
    "relative_error",
    "residual_planes",
    "round_shift",
    "saturated",
    "scale_maxabs",
    "scale_mse",
    "scale_percentile",
    "ternarize",
    "ternarize_planes",
    "ternary_pattern",
    "total_columns",
]
