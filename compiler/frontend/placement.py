"""Where each supported ONNX op is meant to run on the target: the one placement table.

Four places (see the target description): the **crossbar** arrays hold stationary weights, so
Conv/Gemm/MatMul with a constant weight operand go there; the **digital unit** takes what crossbars
do badly: depthwise convolutions and products of two activations (attention's Q·Kᵀ and P·V); the
**cores** run everything else at run time (elementwise, nonlinear, normalization, pooling, data
movement); **compile time** covers ops that cost nothing at run time: constants, shape arithmetic,
views (reshape-like ops), inference-mode Dropout, and any op whose operands are all constants
(folded by the compiler).

``--list-ops`` prints the table; ``--coverage`` applies :func:`place` to a model's nodes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class Placement(enum.Enum):
    """A place an op can run."""

    CROSSBAR = "crossbar"
    DIGITAL_UNIT = "digital unit"
    CORES = "cores"
    COMPILE_TIME = "compile time"


@dataclass(frozen=True)
class NodeFacts:
    """What placement needs to know about one node: which inputs are constants (absent optional
    inputs count as constants), the inputs' shapes where known, and its attributes."""

    const_inputs: tuple[bool, ...]
    input_shapes: tuple[tuple[int | None, ...] | None, ...] = ()
    attrs: dict = field(default_factory=dict)

    def const(self, index: int) -> bool:
        return index < len(self.const_inputs) and self.const_inputs[index]

    def shape(self, index: int) -> tuple | None:
        return self.input_shapes[index] if index < len(self.input_shapes) else None


@dataclass(frozen=True)
class Rule:
    """The usual placement of an op type and, in words, when it differs."""

    usual: Placement
    note: str = ""


X, C, D, T = Placement.CROSSBAR, Placement.CORES, Placement.DIGITAL_UNIT, Placement.COMPILE_TIME

#: Op type -> placement rule, for every op type the onnx dialect supports.
PLACEMENT_TABLE: dict[str, Rule] = {
    # Weight-stationary matrix products.
    "Conv": Rule(X, "depthwise: digital unit; non-constant weights: digital unit"),
    "ConvTranspose": Rule(X, "non-constant weights: digital unit"),
    "Gemm": Rule(X, "no constant operand: digital unit"),
    "MatMul": Rule(X, "no constant operand (attention products): digital unit"),
    # Free at run time.
    "Constant": Rule(T),
    "ConstantOfShape": Rule(T, "from a run-time shape: cores"),
    "Dropout": Rule(T, "inference mode is the identity"),
    "Flatten": Rule(T, "a view"),
    "Identity": Rule(T),
    "Range": Rule(T, "from run-time bounds: cores"),
    "Reshape": Rule(T, "a view"),
    "Shape": Rule(T),
    "Size": Rule(T),
    "Squeeze": Rule(T, "a view"),
    "Unsqueeze": Rule(T, "a view"),
    # Data movement on the cores.
    **dict.fromkeys(
        ("Concat", "Expand", "Gather", "Pad", "Slice", "Split", "Tile", "Transpose"), Rule(C, "data movement")
    ),
    # Elementwise, nonlinear, normalization, reduction and pooling ops on the cores.
    **dict.fromkeys(
        (
            "Abs", "Add", "And", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Ceil",
            "Clip", "Div", "Equal", "Erf", "Exp", "Floor", "Gelu", "GlobalAveragePool",
            "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "IsInf",
            "IsNaN", "LRN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log",
            "LogSoftmax", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "Not", "Or", "PRelu",
            "Pow", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
            "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
            "Relu", "Sigmoid", "Sign", "Softmax", "Sqrt", "Sub", "Sum", "Tanh", "Where", "Xor",
        ),
        Rule(C),
    ),
}  # fmt: skip

#: The rule of op types the table does not list yet (the tests require the table to be complete).
DEFAULT_RULE = Rule(C, "no placement rule yet; cores by default")


def rule_for(op_type: str) -> Rule:
    """The placement rule of ``op_type``."""
    return PLACEMENT_TABLE.get(op_type, DEFAULT_RULE)


# The weight operand of each convolution (a crossbar can only hold a constant one).
_WEIGHT_INPUT = {"Conv": 1, "ConvTranspose": 1}


def place(op_type: str, facts: NodeFacts) -> Placement:
    """Where one node of ``op_type`` runs, given what is known about it."""
    rule = rule_for(op_type)
    if op_type == "Constant" or (facts.const_inputs and all(facts.const_inputs)):
        return Placement.COMPILE_TIME
    if op_type in _WEIGHT_INPUT:
        if not facts.const(_WEIGHT_INPUT[op_type]):
            return Placement.DIGITAL_UNIT
        if op_type == "Conv" and _is_depthwise(facts):
            return Placement.DIGITAL_UNIT
        return Placement.CROSSBAR
    if op_type in ("Gemm", "MatMul"):
        return Placement.CROSSBAR if facts.const(0) or facts.const(1) else Placement.DIGITAL_UNIT
    if op_type in ("ConstantOfShape", "Range"):
        return Placement.CORES  # their inputs are not all constant (handled above)
    return rule.usual


def _is_depthwise(facts: NodeFacts) -> bool:
    """A grouped convolution with one input channel per group."""
    group = int(facts.attrs.get("group", 1))
    weight = facts.shape(1)
    return group > 1 and weight is not None and len(weight) > 1 and weight[1] == 1


def describe_table(op_types: Sequence[str]) -> str:
    """The ``--list-ops`` text: one line per op type, its usual placement, then the exceptions."""
    width = max(len(op) for op in op_types) + 2
    lines = []
    for op in op_types:
        rule = rule_for(op)
        note = f"  ({rule.note})" if rule.note else ""
        lines.append(f"{op:<{width}}{rule.usual.value}{note}")
    return "\n".join(lines) + "\n"
