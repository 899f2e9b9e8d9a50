"""The shared engine of ``ternarize`` and ``quantize-weights``: fit every float crossbar layer in
program order during one calibration run, each on the inputs the already-quantized layers before
it produce, and replace it by a float-input ``quant.linear`` / ``quant.conv``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from ..util.memory import ErasedBytes
from .calibration import Calibration, calibration_for
from .layers import Layer, as_layer, build_layer_op, float_layer_ops, replace_layer
from .numerics.fitting import WeightSpec, fit_layer, reference_rows_needed
from .record import is_float_model, record_model, remember_reference, set_float
from .runner import run_streams

#: A policy maps (layer index, number of layers) to the layer's spec, or None to leave it float.
Policy = Callable[[int, int], "WeightSpec | None"]


def quantize_weights(
    module: ModuleOp, policy: Policy, calibration: str, array_rows: int, needs_ref: bool = True
) -> bool:
    """Quantize the float crossbar layers of ``module`` by ``policy``; True if any changed."""
    n = len(float_layer_ops(module))
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
    ops = float_layer_ops(module)
    # Each layer's float weight matrix is made when its turn comes and goes once it is replaced:
    # all of them at once would be a second copy of every weight beside the IR's constants.
    # The op itself stays referenced so that its id names no other op meanwhile.
    chosen = {id(op): (index, op, policy(i, len(ops))) for i, (index, op) in enumerate(ops)}
    chosen = {k: v for k, v in chosen.items() if v[2] is not None}
    del ops
    if not chosen:
        return None
    was_float = is_float_model(module)
    erased = ErasedBytes()

    def callback(op: Operation, ref_ins, q_ins, run) -> list[Operation]:
        index, _, spec = chosen.pop(id(op))
        layer = as_layer(op, index)
        x_q, x_ref, ref_mean = layer_inputs(layer, spec, ref_ins[0], q_ins[0], run)
        new = replacement(layer, spec, x_q, x_ref, array_rows, ref_mean)
        erased.add(layer.weight.nbytes)  # the float weight constant erased with the layer
        return [new]

    run = run_streams(
        module, cal, lambda op: id(op) in chosen, callback, ref=needs_ref or was_float
    )
    remember_reference(module, cal, run, was_float)
    outputs = run.outputs("q")
    record_model(module, cal, outputs, metric)
    return outputs


def layer_inputs(layer: Layer, spec: WeightSpec, ref, q, run):
    """The layer's calibration rows for :func:`fit_layer`: ``(x_q, x_ref, ref_mean)`` from its
    input's chunks in both streams (``ref`` None: no float stream).

    When the fit uses only the float rows' mean, ``x_ref`` is reduced to it before ``x_q`` is
    made: one row matrix (tens of megabytes for an early convolution) in memory at a time.
    """
    if ref is q or ref is None:
        # Nothing quantized upstream yet (or no float stream): the inputs coincide.
        x_q = layer.rows(run.samples(q))
        return x_q, (x_q if ref is not None else None), None
    x_ref = layer.rows(run.samples(ref))
    ref_mean = None
    if not reference_rows_needed(spec):
        ref_mean, x_ref = x_ref.mean(axis=0, dtype=np.float64), None
    return layer.rows(run.samples(q)), x_ref, ref_mean


def replacement(
    layer: Layer, spec: WeightSpec, x_q, x_ref, array_rows: int, ref_mean=None
) -> Operation:
    """Fit ``layer`` and swap in its quant op (returned, already in the IR)."""
    fitted = fit_layer(layer.weight, layer.bias, spec, x_q, x_ref, ref_mean=ref_mean)
    new = build_layer_op(layer, fitted.weights, fitted.bias, array_rows)
    set_float(new, "quant.weight_error", fitted.weight_error)
    set_float(new, "quant.output_error", fitted.output_error)
    replace_layer(layer.op, [new])
    return new
