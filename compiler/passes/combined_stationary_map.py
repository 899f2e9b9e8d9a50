"""combined-stationary-map: every crossbar layer onto the arrays, as ``imc`` jobs.

Weights stay where they are programmed (stationary); activations stream through the arrays as
gathered input vectors; partial sums of the row tiles accumulate in place in one int32
accumulator, and one ``imc.requant`` on the cores turns it into the layer's output (planes
summed, zero point, scales, bias). On an analog target (``cluster``) each window holds one
(row tile, run of columns with one ADC step); several small layers share an array; free arrays
take replicas of the layers whose jobs bound the pipeline; a network larger than the chip is cut
into epochs, reprogrammed between them. On FAT's digital arrays the same jobs are the
combined-stationary scheme itself: each job's activations sit in a memory column (one output
position per lane), the ternary weights are broadcast from the control unit, zero weights are
skipped, and partial sums stay in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend.estimates import window_cycles
from ..backend.layout import NCHW_TO_NHWC, NHWC_TO_NCHW, transpose
from ..backend.nodes import layer_name, require_static_shapes
from ..backend.packing import LayerDemand, Placement, place, split
from ..backend.target import module_target, weight_group
from ..backend.windows import LayerMatrix, layer_matrix
from ..dialects import imc
from ..dialects import onnx as onnx_dialect
from ..dialects.func import FuncOp
from ..dialects.quant import ConvOp, CrossbarLayerOp, LinearOp
from ..ir.attributes import (
    ArrayAttr,
    BoolAttr,
    DenseElementsAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
)
from ..ir.builder import Builder
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.types import RankedTensorType, i32, none
from ..pm import Pass, PassFailure, register_pass
from ..precision.numerics.crossbar import crossbar_params
from ..precision.numerics.crossbar import tiles as row_tiles

#: Largest number of copies of one layer's weights.
MAX_REPLICAS = 16


@dataclass
class _Layer:
    op: CrossbarLayerOp
    matrix: LayerMatrix
    windows: list
    fmt: str
    jobs: int


@register_pass
@dataclass(frozen=True)
class CombinedStationaryMapPass(Pass):
    """Replaces every ``quant.linear`` / ``quant.conv`` by ``imc.weights`` (windows placed on
    arrays), ``imc.mvm`` jobs and an ``imc.requant``; records arrays needed and used, the
    utilisation and any reprogramming on the module (``imc.mapping``)."""

    name = "combined-stationary-map"
    summary = "Map crossbar layers onto the arrays: windows, packing, replicas, reprogramming"

    replicate: bool = field(
        default=True, metadata={"help": "give free arrays to replicas of the slowest layers"}
    )

    def requires(self, module: ModuleOp) -> None:
        require_static_shapes(module)

    def run(self, module: ModuleOp) -> bool:
        target = module_target(module)
        group = weight_group(target)
        func = _main(module)
        layers = [
            self._analyse(op, target, group)
            for op in list(func.body.ops)
            if isinstance(op, CrossbarLayerOp)
        ]
        if not layers:
            return False
        demands = [
            LayerDemand(
                layer_name(la.op),
                [(w.rows, w.cols) for w in la.windows],
                sum(
                    window_cycles(target, group, w.rows, w.cols, la.jobs, la.matrix.block(w))
                    for w in la.windows
                ),
                _max_replicas(la),
            )
            for la in layers
        ]
        try:
            placement = place(
                demands, group.first, group.count, group.rows, group.cols, self.replicate
            )
        except ValueError as exc:
            raise PassFailure(str(exc), func.location) from None
        opset = onnx_dialect.module_opset(module)
        ncores = int(target.cores.count)
        by_epoch: dict[int, list[Operation]] = {}
        starts: dict[int, Operation] = {}
        for i, la in enumerate(layers):
            parts = _rewrite(la, placement.slots[i], placement.epochs_of(i), opset, ncores)
            for epoch, (weights, start) in parts.items():
                by_epoch.setdefault(epoch, []).extend(weights)
                starts.setdefault(epoch, start)
        # Epoch 0 is programmed once, before everything; a barrier then marks where inference
        # starts (a session keeps the weights resident and runs from there). A later epoch waits
        # for every job before it, then reprograms its arrays.
        b = Builder.at_start(func.body)
        for w in by_epoch[0]:
            b.insert(w)
        b.insert(_barrier("weights resident", layers[0].op.location))
        for epoch in sorted(by_epoch)[1:]:
            b = Builder.before(starts[epoch])
            b.insert(_barrier(f"reprogram the arrays (epoch {epoch})", starts[epoch].location))
            for w in by_epoch[epoch]:
                b.insert(w)
        _record(module, placement)
        return True

    def ensures(self, module: ModuleOp) -> None:
        for op in module.walk():
            if isinstance(op, CrossbarLayerOp):
                raise PassFailure(f"'{op.name}' was left unmapped", op.location)
            if isinstance(op, imc.WeightsOp) and op.unallocated():
                raise PassFailure("an array window was left unplaced", op.location)

    # --- analysis --------------------------------------------------------------------------
    def _analyse(self, op: CrossbarLayerOp, target, group) -> _Layer:
        name = layer_name(op)
        if not op.integer_input:
            raise PassFailure(
                f"layer '{name}' takes float inputs (the ideal analog layer): the arrays need "
                "DAC codes; run quantize-activations (any --precision but fp32 does)",
                op.location,
            )
        w = op.crossbar_weights()
        readout = op.readout()
        cells = w.column_cells()
        lo, hi = (int(cells.min()), int(cells.max())) if cells.size else (0, 0)
        if lo < group.cell_min or hi > group.cell_max:
            raise PassFailure(
                f"layer '{name}' has weights in {lo}..{hi}; the arrays of target "
                f"'{target.name}' hold {group.cell_min}..{group.cell_max}",
                op.location,
            )
        fmt = "t2" if lo >= -1 and hi <= 1 else "i4"
        adc = group.get("adc_bits", 0) if group.kind == "analog" else 0
        if readout.bits != adc:
            have = f"ADC readings of {readout.bits} bits" if readout.bits else "exact readout"
            want = f"ADC readings of {adc} bits" if adc else "exact digital sums"
            raise PassFailure(
                f"layer '{name}' was quantized for {have}, but the arrays of target "
                f"'{target.name}' give {want}: quantize for this target",
                op.location,
            )
        if readout.rows > group.rows:
            raise PassFailure(
                f"layer '{name}' has row tiles of {readout.rows} inputs, the arrays have "
                f"{group.rows} rows",
                op.location,
            )
        k = w.fan_in
        if isinstance(op, ConvOp):
            g = op.geometry()
            if g["dilations"][1] != 1:
                raise PassFailure(
                    f"layer '{name}': a convolution dilated along the width has no contiguous "
                    "kernel rows for the array's gather",
                    op.location,
                )
            run = g["kernel_shape"][1] * op.operands[0].type.shape[1]  # one kernel row, kw·C
            tiles = [(t.start, t.stop) for t in row_tiles(k, readout.rows)]
            for k0, k1 in tiles:
                if k0 // run != (k1 - 1) // run and (k0 % run or k1 % run):
                    raise PassFailure(
                        f"layer '{name}': row tile {k0}..{k1} straddles kernel rows of {run} "
                        "inputs, which the array's gather cannot read; quantize with array rows "
                        "that divide or are a multiple of kw·C",
                        op.location,
                    )
            n, _, h, wd = op.results[0].type.shape
            jobs = n * h * wd
        else:
            tiles = [(t.start, t.stop) for t in row_tiles(k, readout.rows)]
            jobs = int(np.prod(op.operands[0].type.shape[:-1]))
        shift = readout.shift if readout.bits else None
        matrix = layer_matrix(name, cells, tiles, shift, readout.group)
        windows = matrix.windows(group.cols, same_shift=bool(readout.bits))
        return _Layer(op, matrix, windows, fmt, jobs)


def _main(module: ModuleOp) -> FuncOp:
    for op in module.body.ops:
        if isinstance(op, FuncOp):
            return op
    raise PassFailure("the module has no function to map")


def _max_replicas(la: _Layer) -> int:
    if isinstance(la.op, ConvOp):
        n, _, ho, _ = la.op.results[0].type.shape
        return min(MAX_REPLICAS, n if n > 1 else ho)  # images of a batch, or output rows
    return min(MAX_REPLICAS, la.jobs)


# --- rewriting ------------------------------------------------------------------------------


def _i(v: int) -> IntegerAttr:
    return IntegerAttr(int(v))


def _barrier(reason: str, loc) -> Operation:
    return imc.BarrierOp.create(attributes={"reason": StringAttr(reason)}, location=loc)


def _rewrite(la: _Layer, replicas, window_epochs: list[int], opset: int, ncores: int):
    """Replace the layer by its jobs. Returns, per epoch its windows are programmed in, the
    (not yet inserted) weight ops and the first op that needs them: the layer's first op for
    its first epoch, the first job on the epoch's windows for a later one."""
    op, m = la.op, la.matrix
    loc = op.location
    name = m.name
    parts: dict[int, tuple[list[Operation], Operation | None]] = {}
    windows = []  # per replica, per window, the window value
    count = 0
    for replica in replicas:
        vals = []
        for w, slot, epoch in zip(la.windows, replica, window_epochs):
            attrs = {
                "cells": DenseElementsAttr.from_array(m.block(w), hint=f"{name}.w{count}"),
                "fmt": StringAttr(la.fmt),
                "array": _i(slot.array),
                "row0": _i(slot.row0),
                "col0": _i(slot.col0),
                "layer": StringAttr(name),
            }
            count += 1
            wop = imc.WeightsOp.create(
                result_types=[imc.window_type(w.rows, w.cols)], attributes=attrs, location=loc
            )
            parts.setdefault(epoch, ([], None))[0].append(wop)
            vals.append(wop.results[0])
        windows.append(vals)
    b = Builder.before(op)
    start = op.parent.index_of(op)
    if isinstance(op, ConvOp):
        x, jobs_of = _conv_input(b, op, la, opset, ncores)
    else:
        x, jobs_of = _linear_input(op, la)
    acc_type = RankedTensorType((la.jobs, m.columns), i32)
    acc = b.insert(
        imc.EmptyOp.create(
            result_types=[acc_type], attributes={"buffers": imc.unallocated()}, location=loc
        )
    ).results[0]
    firsts: dict[int, Operation] = {}
    for r, chunk in enumerate(jobs_of(len(replicas))):
        for w, win, epoch in zip(la.windows, windows[r], window_epochs):
            for gather in chunk(w):
                attrs = {k: _i(v) for k, v in gather.items()}
                attrs.update(
                    dst_col=_i(w.c0),
                    acc_mode=BoolAttr(w.tile > 0),
                    adc_shift=_i(w.shift),
                    layer=StringAttr(name),
                    buffers=imc.unallocated(),
                )
                mvm = imc.MvmOp.create([x, win, acc], [acc_type], attrs, location=loc)
                firsts.setdefault(epoch, mvm)
                acc = b.insert(mvm).results[0]
    y = _requant(b, op, acc, la, opset, ncores)
    first = op.parent.ops[start]
    op.results[0].replace_all_uses_with(y)
    op.erase()
    lead = min(parts)
    return {
        epoch: (weights, first if epoch == lead else firsts[epoch])
        for epoch, (weights, _) in sorted(parts.items())
    }


def _linear_input(op: LinearOp, la: _Layer):
    x = op.operands[0]
    k = la.matrix.fan_in

    def jobs_of(replicas: int):
        def chunks(r0, r1):
            def gathers(w):
                yield {
                    "x_offset": r0 * k + w.k0,
                    "seg_count": 1,
                    "seg_len": w.rows,
                    "seg_stride": 0,
                    "inner_stride": k,
                    "outer_stride": 0,
                    "n_inner": r1 - r0,
                    "n_outer": 1,
                    "dst_row": r0,
                }

            return gathers

        return [chunks(r0, r1) for r0, r1 in split(la.jobs, replicas)]

    return x, jobs_of


def _conv_input(b: Builder, op: ConvOp, la: _Layer, opset: int, ncores: int):
    g = op.geometry()
    loc = op.location
    x = transpose(b, op.operands[0], NCHW_TO_NHWC, opset, ncores, loc)
    t, left, bottom, right = g["pads"]
    zp = op.get_attr("input_zero_point", 0)
    if any(g["pads"]):
        n, h, w, c = x.type.shape
        pt = RankedTensorType((n, h + t + bottom, w + left + right, c), x.type.element_type)
        pad = imc.PadOp.create(
            [x],
            [pt],
            {
                "pads": ArrayAttr(tuple(_i(p) for p in g["pads"])),
                "value": _i(zp),
                "unit": StringAttr("dma"),
                "layer": StringAttr(la.matrix.name),
                "buffers": imc.unallocated(),
            },
            location=loc,
        )
        x = b.insert(pad).results[0]
    n, hp, wp, c = x.type.shape
    _, _, ho, wo = op.results[0].type.shape
    (_, kw), (sh, sw), (dh, _) = g["kernel_shape"], g["strides"], g["dilations"]
    row = kw * c  # one kernel row of inputs, contiguous in the padded NHWC image

    def jobs_of(replicas: int):
        # replicas share out the images of a batch, or the output rows of a single image
        if n > 1:
            parts = [(b0, b1, 0, ho) for b0, b1 in split(n, replicas)]
        else:
            parts = [(0, 1, y0, y1) for y0, y1 in split(ho, replicas)]

        def chunks(b0, b1, y0, y1):
            def gathers(w):
                i0, a = divmod(w.k0, row)
                whole = w.k0 % row == 0 and w.k1 % row == 0 and w.rows >= row
                base = b0 * hp * wp * c + y0 * sh * wp * c
                common = {
                    "inner_stride": sw * c,
                    "outer_stride": sh * wp * c,
                    "n_inner": wo,
                    "n_outer": y1 - y0,
                    "dst_row": b0 * ho * wo + y0 * wo,
                }
                if b1 - b0 > 1:
                    common.update(n_batch=b1 - b0, batch_stride=hp * wp * c)
                if whole:
                    yield {
                        "x_offset": base + i0 * dh * wp * c,
                        "seg_count": w.rows // row,
                        "seg_len": row,
                        "seg_stride": dh * wp * c,
                        **common,
                    }
                else:
                    yield {
                        "x_offset": base + i0 * dh * wp * c + a,
                        "seg_count": 1,
                        "seg_len": w.rows,
                        "seg_stride": 0,
                        **common,
                    }

            return gathers

        return [chunks(*part) for part in parts]

    return x, jobs_of


def requant_attrs(params, unit: str, ncores: int, layer: str) -> dict:
    """The attributes of an ``imc.requant`` doing the periphery ``params`` (`ReadoutParams`)."""
    attrs = {
        "planes": _i(params.planes),
        "scale": DenseElementsAttr.from_array(np.asarray(params.scale, np.float32)),
        "zp": _i(params.zero_point),
        "lo": FloatAttr(params.lo),
        "hi": FloatAttr(params.hi),
        "unit": StringAttr(unit),
        "ncores": _i(ncores),
        "layer": StringAttr(layer),
        "buffers": imc.unallocated(),
    }
    if params.offset is not None:
        attrs["offset"] = DenseElementsAttr.from_array(params.offset)
    if params.bias is not None:
        attrs["bias"] = DenseElementsAttr.from_array(params.bias)
    return attrs


def _requant(
    b: Builder, op: CrossbarLayerOp, acc: Value, la: _Layer, opset: int, ncores: int
) -> Value:
    dynamic = op.operand("x_scale") if isinstance(op, LinearOp) else None
    input_scale = np.ones((1, 1), np.float32) if dynamic is not None else op.get_attr("input_scale")
    zp = op.get_attr("input_zero_point", 0)
    params = crossbar_params(op.crossbar_weights(), input_scale, zp, op.bias(), op.output_codes())
    attrs = requant_attrs(params, "cluster", ncores, la.matrix.name)
    rs = dynamic if dynamic is not None else _none(b, op)
    y_type = op.results[0].type
    if isinstance(op, ConvOp):
        n, o, ho, wo = y_type.shape
        nhwc = RankedTensorType((n, ho, wo, o), y_type.element_type)
        rq = b.insert(imc.RequantOp.create([acc, rs], [nhwc], attrs, location=op.location))
        return transpose(b, rq.results[0], NHWC_TO_NCHW, opset, ncores, op.location)
    rq = b.insert(imc.RequantOp.create([acc, rs], [y_type], attrs, location=op.location))
    return rq.results[0]


def _none(b: Builder, op: Operation) -> Value:
    return b.insert(
        onnx_dialect.NoValueOp.create(result_types=[none], location=op.location)
    ).results[0]


def _record(module: ModuleOp, p: Placement) -> None:
    entries = (
        ("arrays_available", _i(p.arrays_available)),
        ("arrays_needed", _i(p.arrays_needed)),
        ("arrays_used", _i(p.arrays_used)),
        ("epochs", _i(max(p.epochs, default=0) + 1)),
        ("utilisation", FloatAttr(round(p.utilisation, 4))),
        ("notes", ArrayAttr(tuple(StringAttr(n) for n in p.notes))),
    )
    module.attributes["imc.mapping"] = DictAttr(entries)
