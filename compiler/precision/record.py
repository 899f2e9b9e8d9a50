"""What the precision passes write into the IR for the report: per-layer and model-level numbers.

Per layer op (discardable attributes): ``quant.weight_error`` (‖W − Ŵ‖/‖W‖),
``quant.output_error`` (relative error of the layer's output from its weights alone, on its
calibration inputs), ``quant.act_error`` (from its DAC/ADC conversion alone) and ``quant.choice``
(the option ``precision-auto`` picked). Per module: ``quant.model_error`` with ``quant.metric``,
``quant.relative_error`` and ``quant.cosine`` (always, against the float model on the calibration
set), ``quant.accuracy`` / ``quant.accuracy_fp32`` with labels, ``quant.calibration`` (the data's
source).
"""

from __future__ import annotations

import math

from ..ir.attributes import FloatAttr, StringAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from .calibration import Calibration, store_calibration
from .layers import quant_layers
from .numerics import metrics
from .runner import StreamRun


def set_float(op: Operation, key: str, value: float) -> None:
    """Record a float attribute (NaN values are left out)."""
    if value is not None and not math.isnan(value):
        op.attributes[key] = FloatAttr(float(value))


def is_float_model(module: ModuleOp) -> bool:
    """Whether no layer is quantized yet (its outputs are then the fp32 reference)."""
    return not quant_layers(module)


def remember_reference(module: ModuleOp, cal: Calibration, run: StreamRun, was_float: bool) -> None:
    """Keep the float model's outputs the first time a pass runs on a float model (on ``cal``
    and in the module's calibration attribute, for the passes after this one)."""
    if cal.reference is None and was_float and run.ref_outputs is not None:
        cal.reference = run.outputs("ref")
        store_calibration(module, cal)


def record_model(
    module: ModuleOp, cal: Calibration, outputs, metric: str = "auto", output: int | None = None
) -> float | None:
    """Write the model-level numbers of ``outputs`` vs the float reference (only output number
    ``output`` when given); returns the error."""
    if cal.reference is None:
        return None
    m = metrics.resolve_metric(metric, cal.labels is not None)
    ref = cal.reference
    if output is not None:
        ref, outputs = [ref[output]], [outputs[output]]
    err = metrics.model_error(ref, outputs, m, cal.labels)
    attrs = module.attributes
    attrs["quant.model_error"] = FloatAttr(err)
    attrs["quant.metric"] = StringAttr(m)
    attrs["quant.relative_error"] = FloatAttr(metrics.relative(ref, outputs))
    attrs["quant.cosine"] = FloatAttr(metrics.mean_cosine(ref, outputs))
    attrs["quant.calibration"] = StringAttr(cal.source)
    if cal.labels is not None:
        attrs["quant.accuracy"] = FloatAttr(metrics.accuracy(outputs, cal.labels))
        attrs["quant.accuracy_fp32"] = FloatAttr(metrics.accuracy(ref, cal.labels))
    return err
