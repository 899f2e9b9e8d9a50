"""The compiler's levels and the pass pipeline that produces each, as readable lists.

``imcc --emit=LEVEL`` imports the model and runs the pipelines of every level up to LEVEL, in the
order of :data:`LEVELS`. Each step is a pipeline element (``pass{option=value}``) with a comment
saying why it sits where it does. ``asm`` and ``bin`` add no steps: they print the isa level's program
as assembly text or as prog.bin.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import passes  # noqa: F401  (registers every pass the steps name)
from .precision.pipeline import precision_steps


@dataclass(frozen=True)
class Level:
    """One stopping point of the compiler: its name, what it emits, and the steps that reach it."""

    name: str
    summary: str
    steps: tuple[str, ...]

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

# --- the quant level: its steps depend on --precision, see compiler/precision/pipeline.py
# (default: one data-aware ternary plane per layer; fp32: none, the software program). ---
QUANT_LEVEL = Level(
    name="quant",
    summary="crossbar layers quantized (quant dialect: ternary/int8 weights, int8 activations, "
    "ADC ranges) per --precision, as IR text",
    steps=precision_steps(),
)

IMC_LEVEL = Level(
    name="imc",
    summary="the program as jobs of the chip's units (imc dialect), arrays and memory placed, "
    "as IR text",
    steps=(
        # Crossbar layers first: their weights decide the arrays, and their jobs are the ones the
        # rest of the program is scheduled around.
        "combined-stationary-map",
        # Then the run-time products attention-split made: their operands written into the
        # dynamic arrays, the other operand streamed through them.
        "dynamic-array-map",
        # Then everything else finds a unit: cores' library kernels, quantization jobs.
        "nonlinear-offload",
        # Crossbar jobs read and write channels-last images; cancel and sink the layout
        # transposes the two conversions put around them, now that every op is a job.
        "fold-layout",
        # A ReLU or clip right after a readout is the readout's clamp: one core pass fewer.
        # After fold-layout, which removes the transposes that sat between them.
        "fuse-requant-activation",
        # Layers whose input, accumulator and output exceed L1 run tile by tile, streamed from
        # and into L2 by DMA, the next tile's input loaded while the arrays read this one.
        "tile-layers",
        # Bytes for every value once the set of values is final.
        "plan-memory",
        # Last: the order the instructions issue in, once nothing adds or moves a job.
        "schedule",
    ),
)

ISA_LEVEL = Level(
    name="isa",
    summary="the program as ISA instructions (isa dialect), tensor table and constants, as IR text",
    steps=("imc-to-isa",),
)

ASM_LEVEL = Level(
    name="asm",
    summary="the program as assembly text (imcc-as reads it back)",
    steps=(),
)

BIN_LEVEL = Level(
    name="bin",
    summary="the program binary (prog.bin) the simulated chip runs",
    steps=(),
)

#: Every level, shallowest first.
LEVELS: tuple[Level, ...] = (ONNX_LEVEL, QUANT_LEVEL, IMC_LEVEL, ISA_LEVEL, ASM_LEVEL, BIN_LEVEL)


def level(name: str) -> Level:
    """The level called ``name``; KeyError naming the known ones otherwise."""
    for lv in LEVELS:
        if lv.name == name:
            return lv
    raise KeyError(f"unknown level '{name}' (known: {', '.join(lv.name for lv in LEVELS)})")


#: The level ``imcc`` stops at unless told otherwise.
DEFAULT_LEVEL = "bin"

#: Levels written as IR text (the others are a program: assembly text or binary).
IR_LEVELS = ("onnx", "quant", "imc", "isa")


def pipeline_to(name: str, overrides: dict[str, tuple[str, ...]] | None = None) -> str:
    """The whole pipeline from the imported module to level ``name``; ``overrides`` replaces the
    steps of the levels it names (e.g. ``{"quant": precision_steps("auto", 0.01)}``)."""
    steps: list[str] = []
    for lv in LEVELS:
        steps += (overrides or {}).get(lv.name, lv.steps)
        if lv.name == name:
            return ",".join(steps)
    raise KeyError(f"unknown level '{name}'")
