"""The compiler's levels and the pass pipeline that produces each, as readable lists.

``imcc --emit=LEVEL`` imports the model and runs the pipelines of every level up to LEVEL, in the
order of :data:`LEVELS`. Each step is a pipeline element (``pass{option=value}``) with a comment
saying why it sits where it does; later issues append levels (the IMC dialect, the ISA, the binary).
"""

from __future__ import annotations

from dataclasses import dataclass

from .precision.pipeline import precision_steps


@dataclass(frozen=True)
class Level:
    """One stopping point of the compiler: its name, what it emits, and the steps that reach it."""

    name: str
    summary: str
    steps: tuple[str, ...]
    #: False for levels whose backend does not exist yet (asking for them is an error).
    available: bool = True
    #: True for levels reached only when asked for (``--emit``), never as the default.
    opt_in: bool = False

    @property
    def pipeline(self) -> str:
        return ",".join(self.steps)


ONNX_LEVEL = Level(
    name="onnx",
    summary="the imported model in the onnx dialect, canonicalized, with nn ops fused, as IR text",
    steps=(
        # Fold ops whose operands are constants (shape computations once input shapes are pinned,
        # weight transposes), drop no-op Identity/inference Dropout/same-type Cast/same-shape
        # Reshape, and remove what became dead. First, so every later step sees the real graph.
        "canonicalize",
        # Evaluate what is known at compile time with the kernels: shape sub-graphs (static
        # dimensions of dynamic shapes too), mask arithmetic, so Reshape targets become literals.
        "fold-onnx-constants",
        # BatchNormalization into the Conv/Gemm/MatMul weights, while those are still onnx ops.
        "fold-batchnorm",
        # Constant-weight products (+ bias, including folded BN shifts) -> nn.linear.
        "fuse-linear",
        # The decomposed LayerNorm and GELU chains -> nn.layer_norm, nn.gelu.
        "fuse-layernorm",
        "fuse-gelu",
        # Last: it needs the folded head-reshape targets and takes the projections' results.
        "fuse-attention",
        # Exporters repeat small constants and shape subgraphs; merge the duplicates.
        "cse",
        # CSE leaves the merged twins' producers unused.
        "dce",
    ),
)

# --- precision (issue 5): the quant level; its steps depend on --precision, see
# compiler/precision/pipeline.py (default: one data-aware ternary plane per layer). ---
QUANT_LEVEL = Level(
    name="quant",
    summary="crossbar layers quantized (quant dialect: ternary/int8 weights, int8 activations, "
    "ADC ranges) per --precision, as IR text",
    steps=precision_steps(),
    # Quantizing needs calibration data to be meaningful; until the backend levels exist, the
    # default stopping point stays the onnx level.
    opt_in=True,
)

BIN_LEVEL = Level(
    name="bin",
    summary="the IMC program binary (prog.bin) -- not implemented yet",
    steps=(),
    available=False,
)

#: Every level, shallowest first.
LEVELS: tuple[Level, ...] = (ONNX_LEVEL, QUANT_LEVEL, BIN_LEVEL)


def level(name: str) -> Level:
    """The level called ``name``; KeyError naming the known ones otherwise."""
    for lv in LEVELS:
        if lv.name == name:
            return lv
    raise KeyError(f"unknown level '{name}' (known: {', '.join(lv.name for lv in LEVELS)})")


def deepest_available() -> Level:
    """The deepest level whose backend exists."""
    return [lv for lv in LEVELS if lv.available and not lv.opt_in][-1]


def pipeline_to(name: str, overrides: dict[str, tuple[str, ...]] | None = None) -> str:
    """The whole pipeline from the imported module to level ``name``; ``overrides`` replaces the
    steps of the levels it names (e.g. ``{"quant": precision_steps("auto", 0.01)}``)."""
    steps: list[str] = []
    for lv in LEVELS:
        steps += (overrides or {}).get(lv.name, lv.steps)
        if lv.name == name:
            return ",".join(steps)
    raise KeyError(f"unknown level '{name}'")
