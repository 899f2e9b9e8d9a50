"""quantize-depthwise: 8-bit depthwise convolutions for the digital depthwise unit."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.builtin import ModuleOp
from ..pm import Pass, register_pass
from ..precision.activations import ActSpec
from ..precision.calibration import calibration_for
from ..precision.depthwise import is_float_depthwise, quantized_depthwise
from ..precision.layers import replace_layer
from ..precision.record import record_model
from ..precision.runner import run_streams
from ..precision.target import array_params


@register_pass
@dataclass(frozen=True)
class QuantizeDepthwisePass(Pass):
    """Replaces every float depthwise convolution by a static 8-bit DAC conversion and a
    ``quant.dwconv`` (int8 per-channel weights, exact int32 sums, float32 rescale), calibrated in
    one run over the calibration set with every earlier layer already quantized; records the
    model's error against fp32 afterwards."""

    name = "quantize-depthwise"
    summary = "8-bit depthwise convolutions (int8 weights, static DAC) for the depthwise unit"

    method: str = field(default="maxabs", metadata={"help": "clipping: maxabs | percentile | mse"})
    calibration: str = field(
        default="", metadata={"help": "calibration .npz (else attached/synthetic)"}
    )

    def run(self, module: ModuleOp) -> bool:
        if not any(is_float_depthwise(op) for op in module.walk()):
            return False
        bits = min(array_params(module).dac_bits, 8)
        spec = ActSpec("static", bits, self.method)
        cal = calibration_for(module, self.calibration)

        def callback(op, ref_ins, q_ins, run):
            new = quantized_depthwise(op, run.samples(q_ins[0]), spec)
            replace_layer(op, new)
            return new

        run = run_streams(module, cal, is_float_depthwise, callback, ref=False)
        record_model(module, cal, run.outputs("q"), "auto")
        return True
