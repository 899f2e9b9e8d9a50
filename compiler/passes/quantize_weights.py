"""quantize-weights: per-channel int8 weights for every crossbar layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.builtin import ModuleOp
from ..pm import Pass, register_pass
from ..precision.numerics.fitting import WeightSpec
from ..precision.target import array_params
from ..precision.weights_pass import quantize_weights


@register_pass
@dataclass(frozen=True)
class QuantizeWeightsPass(Pass):
    """Replaces every float crossbar layer by a float-input ``quant.linear`` / ``quant.conv``
    with int8 weight codes (symmetric, one max-abs step per output channel) and, with
    calibration data, a bias corrected so the mean output is the float model's. An int8 weight
    is assumed to take two 4-bit cells (two columns per channel) summed in the analog domain."""

    name = "quantize-weights"
    summary = "Per-channel int8 weights for crossbar layers"

    calibration: str = field(
        default="", metadata={"help": "calibration .npz (else attached/synthetic)"}
    )

    def run(self, module: ModuleOp) -> bool:
        rows = array_params(module).rows
        spec = WeightSpec("int8")
        return quantize_weights(module, lambda i, n: spec, self.calibration, rows)
