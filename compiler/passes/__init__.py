"""Passes, one per module, each named like its pass (``cse.py`` ↔ ``cse``).

Importing this package registers every pass with the pass manager.
"""

from . import (  # noqa: F401
    attention_split,
    canonicalize,
    combined_stationary_map,
    cse,
    dce,
    dynamic_array_map,
    fold_batchnorm,
    fold_constants,
    fold_layout,
    fold_onnx_constants,
    fuse_attention,
    fuse_gelu,
    fuse_layernorm,
    fuse_linear,
    fuse_output_quant,
    fuse_requant_activation,
    imc_to_isa,
    nonlinear_offload,
    plan_memory,
    precision_auto,
    precision_report,
    quantize_activations,
    quantize_depthwise,
    quantize_weights,
    schedule,
    strip_calibration,
    ternarize,
    tile_layers,
)
