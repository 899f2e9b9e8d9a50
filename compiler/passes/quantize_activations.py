"""quantize-activations: DAC codes into every crossbar layer, ADC ranges out of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..dialects.quant import CrossbarLayerOp
from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from ..pm import Pass, register_pass
from ..precision.activations import MODES, ActSpec, convert_layer
from ..precision.calibration import calibration_for
from ..precision.numerics.actquant import CALIBRATION_METHODS
from ..precision.numerics.adc import ADC_CRITERIA
from ..precision.record import record_model
from ..precision.runner import run_streams
from ..precision.target import array_params


@register_pass
@dataclass(frozen=True)
class QuantizeActivationsPass(Pass):
    """Gives every float-input ``quant.linear`` / ``quant.conv`` integer inputs: a
    ``quant.quantize`` (static scale from the calibration data the layer sees, unsigned codes for
    non-negative inputs) or a ``quant.dynamic_quantize`` (per-vector scales at run time), and
    the ADC shift of every plane, row tile and column group calibrated on the integer column sums.
    ``mode=auto`` quantizes linear layers dynamically and convolutions statically. DAC and ADC
    widths come from the target unless given. Run ``cse`` after it to share conversions of one
    tensor (e.g. the Q/K/V inputs)."""

    name = "quantize-activations"
    summary = (
        "Int8 DAC inputs (static or dynamic scales) and calibrated ADC ranges for crossbar layers"
    )

    mode: str = field(default="auto", metadata={"help": "auto | static | dynamic"})
    bits: int = field(default=0, metadata={"help": "DAC bits (0: the target's)"})
    method: str = field(
        default="maxabs", metadata={"help": "static clipping: maxabs | percentile | mse"}
    )
    asymmetric: bool = field(default=False, metadata={"help": "unsigned codes with a zero point"})
    adc_bits: int = field(default=-1, metadata={"help": "ADC bits (-1: the target's; 0: ideal)"})
    adc_group: int = field(default=0, metadata={"help": "columns per ADC range (0: array columns)"})
    adc_criterion: str = field(default="mse", metadata={"help": "mse | fraction"})
    calibration: str = field(
        default="", metadata={"help": "calibration .npz (else attached/synthetic)"}
    )

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got '{self.mode}'")
        if self.method not in CALIBRATION_METHODS or self.adc_criterion not in ADC_CRITERIA:
            raise ValueError("unknown clipping method or ADC criterion")
        if self.bits and not 2 <= self.bits <= 8:
            raise ValueError(f"bits must be in 2..8, got {self.bits}")
        if self.adc_bits > 32 or self.adc_group < 0:
            raise ValueError("adc-bits must be at most 32 and adc-group non-negative")

    def act_spec(self, module: ModuleOp) -> ActSpec:
        """The spec with the defaults of the module's target filled in."""
        arr = array_params(module)
        return ActSpec(
            self.mode, self.bits or min(arr.dac_bits, 8), self.method, self.asymmetric,
            arr.adc_bits if self.adc_bits < 0 else self.adc_bits,
            self.adc_group or arr.cols, self.adc_criterion,
        )  # fmt: skip

    def run(self, module: ModuleOp) -> bool:
        return quantize_inputs(module, self.act_spec(module), self.calibration)


def _float_input(op: Operation) -> bool:
    return isinstance(op, CrossbarLayerOp) and not op.integer_input


def quantize_inputs(module: ModuleOp, spec: ActSpec, calibration: str = "") -> bool:
    """Quantize the inputs of every float-input crossbar layer in one calibration run."""
    if not any(_float_input(op) for op in module.walk()):
        return False
    return quantize_inputs_with(module, spec, calibration_for(module, calibration)) is not None


def quantize_inputs_with(module: ModuleOp, spec: ActSpec, cal, metric: str = "auto"):
    """:func:`quantize_inputs` with the calibration set given; returns the model's outputs on
    it after the rewrite."""

    def callback(op, ref_ins, q_ins, run) -> list[Operation]:
        x = run.samples(q_ins[0])
        return convert_layer(op, x, spec)

    run = run_streams(module, cal, _float_input, callback, ref=False)
    outputs = run.outputs("q")
    record_model(module, cal, outputs, metric)
    return outputs
