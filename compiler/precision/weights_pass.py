"""The shared engine of ``ternarize`` and ``quantize-weights``: fit every float crossbar layer in
program order during one calibration run, each on the inputs the already-quantized layers before
it produce, and replace it by a float-input ``quant.linear`` / ``quant.conv``."""

from __future__ import annotations

from collections.abc import Callable

from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from .calibration import Calibration, calibration_for
from .layers import Layer, build_layer_op, float_layers, replace_layer
from .numerics.fitting import WeightSpec, fit_layer
from .record import is_float_model, record_model, remember_reference, set_float
from .runner import run_streams

#: A policy maps (layer index, number of layers) to the layer's spec, or None to leave it float.
Policy = Callable[[int, int], "WeightSpec | None"]


def quantize_weights(
    module: ModuleOp, policy: Policy, calibration: str, array_rows: int, needs_ref: bool = True
) -> bool:
    """Quantize the float crossbar layers of ``module`` by ``policy``; True if any changed."""
    n = len(float_layers(module))
    if all(policy(i, n) is None for i in range(n)):
        return False
    cal = calibration_for(module, calibration)
    return quantize_weights_with(module, policy, cal, array_rows, needs_ref) is not None


def quantize_weights_with(
    module: ModuleOp,
    policy: Policy,
    cal: Calibration,
    array_rows: int,
    needs_ref: bool = True,
    metric: str = "auto",
):
    """:func:`quantize_weights` with the calibration set given; returns the quantized model's
    outputs on it (None when no layer was selected)."""
    layers = float_layers(module)
    chosen = {id(ly.op): (ly, policy(i, len(layers))) for i, ly in enumerate(layers)}
    chosen = {k: v for k, v in chosen.items() if v[1] is not None}
    del layers  # `chosen` alone holds the layers (and their weight matrices) until replaced
    if not chosen:
        return None
    was_float = is_float_model(module)

    def callback(op: Operation, ref_ins, q_ins, run) -> list[Operation]:
        layer, spec = chosen.pop(id(op))  # its float weight matrix goes once it is replaced
        x_q = layer.rows(run.samples(q_ins[0]))
        if ref_ins[0] is q_ins[0] or ref_ins[0] is None:
            # Nothing quantized upstream yet (or no float stream): the inputs coincide.
            x_ref = x_q if ref_ins[0] is not None else None
        else:
            x_ref = layer.rows(run.samples(ref_ins[0]))
        return [replacement(layer, spec, x_q, x_ref, array_rows)]

    run = run_streams(
        module, cal, lambda op: id(op) in chosen, callback, ref=needs_ref or was_float
    )
    remember_reference(module, cal, run, was_float)
    outputs = run.outputs("q")
    record_model(module, cal, outputs, metric)
    return outputs


def replacement(layer: Layer, spec: WeightSpec, x_q, x_ref, array_rows: int) -> Operation:
    """Fit ``layer`` and swap in its quant op (returned, already in the IR)."""
    fitted = fit_layer(layer.weight, layer.bias, spec, x_q, x_ref)
    new = build_layer_op(layer, fitted.weights, fitted.bias, array_rows)
    set_float(new, "quant.weight_error", fitted.weight_error)
    set_float(new, "quant.output_error", fitted.output_error)
    replace_layer(layer.op, [new])
    return new
