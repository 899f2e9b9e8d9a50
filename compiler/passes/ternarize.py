"""ternarize: per-output-channel ternary weights (residual planes) for every crossbar layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.builtin import ModuleOp
from ..pm import Pass, register_pass
from ..precision.numerics.fitting import RULES, WeightSpec
from ..precision.target import array_params
from ..precision.weights_pass import quantize_weights

FIRST_LAST = ("same", "int8", "fp32")


@register_pass
@dataclass(frozen=True)
class TernarizePass(Pass):
    """Replaces every float crossbar layer (``nn.linear`` or group-1 ``onnx.Conv`` with a
    constant weight) by a float-input ``quant.linear`` / ``quant.conv`` holding ``planes``
    residual ternary planes with per-channel scales (W ≈ α₁T₁ + α₂T₂ + …).

    ``rule=data`` (default) fits each layer on calibration data, in program order on the inputs
    the already-ternarized layers produce, against the float model's output (target-aware
    GPTQ-style rounding, output-optimal scales, bias correction); ``l2``, ``twn`` (threshold
    ``factor``·mean|w|) and ``sparsity`` (fraction ``sparsity`` of zeros) are the data-free rules.
    Channels that already are ternary are kept exactly. ``first-last`` chooses what the first and
    last crossbar layers get: the same (``same``), int8 weights (``int8``) or no quantization
    (``fp32``). Activations stay float: ``quantize-activations`` adds the DAC/ADC.
    """

    name = "ternarize"
    summary = (
        "Ternary weight planes with per-channel scales for crossbar layers (data-aware by default)"
    )

    rule: str = field(default="data", metadata={"help": "data | l2 | twn | sparsity"})
    planes: int = field(default=1, metadata={"help": "residual ternary planes per layer (1..8)"})
    factor: float = field(default=0.7, metadata={"help": "threshold factor of rule=twn"})
    sparsity: float = field(
        default=0.0, metadata={"help": "target fraction of zeros (rule=sparsity: 0 means 0.8)"}
    )
    asymmetric: bool = field(default=False, metadata={"help": "separate +/- scales (TTQ)"})
    damp: float = field(
        default=0.1, metadata={"help": "GPTQ damping (relative to mean diag of X^T X)"}
    )
    first_last: str = field(default="same", metadata={"help": "same | int8 | fp32"})
    calibration: str = field(
        default="", metadata={"help": "calibration .npz (else attached/synthetic)"}
    )

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, got '{self.rule}'")
        if not 1 <= self.planes <= 8:
            raise ValueError(f"planes must be in 1..8, got {self.planes}")
        if not 0.0 <= self.sparsity < 1.0 or self.factor <= 0 or self.damp <= 0:
            raise ValueError("need 0 <= sparsity < 1, factor > 0 and damp > 0")
        if self.first_last not in FIRST_LAST:
            raise ValueError(
                f"first-last must be one of {', '.join(FIRST_LAST)}, got '{self.first_last}'"
            )

    def spec(self) -> WeightSpec:
        """The weight spec of an ordinary layer."""
        return WeightSpec(
            "ternary",
            self.planes,
            self.rule,
            self.factor,
            self.sparsity,
            self.asymmetric,
            self.damp,
        )

    def policy(self, index: int, count: int) -> WeightSpec | None:
        """The spec of layer ``index`` of ``count``, following the first/last policy."""
        edge = index in (0, count - 1)
        if edge and self.first_last == "fp32":
            return None
        if edge and self.first_last == "int8":
            return WeightSpec("int8", rule=self.rule)
        return self.spec()

    def run(self, module: ModuleOp) -> bool:
        rows = array_params(module).rows
        return quantize_weights(module, self.policy, self.calibration, rows, self.rule == "data")
