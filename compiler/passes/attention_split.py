"""attention-split: each attention op per head, its dynamic products on the dynamic arrays.

``nn.attention`` holds everything of multi-head attention that depends on the input: the
products Q·Kᵀ and P·V have no stationary weights, so the large static arrays cannot hold them.
On a target with small dynamic arrays (``bert-chip``) this pass splits the op, per (batch, head)
group, into what those arrays and the other units run:

    q, k, v  ─ per-vector int8 (quant.dynamic_quantize, one vector per token and head)
    S = quant.dynamic_matmul(Q codes, Kᵀ codes)     K written into dynamic arrays, Q streamed
        · scale + mask → softmax (the nonlinear unit) → zero_mask
    P' = P · (V's per-key scales), quantized per query row
    Y = quant.dynamic_matmul(P' codes, V codes)     V written into dynamic arrays, P' streamed

with the head reshapes and transposes on the cores. V's per-key scales cannot leave the sum
over keys, so they are folded into the probabilities before these are quantized; Kᵀ's per-key
scales are per column and applied after the readout. Keys beyond one array's rows (P·V) are
row tiles whose ADC readings add in int32; columns beyond one array's width are further writes.
The ADC step of each product is calibrated on the calibration set (the integer column sums
the product really produces there, all earlier attention layers split already).

``placement``: ``dynamic-arrays`` (refused on a target without them), ``cores`` (attention
stays one library kernel on the cores, in float32) or ``auto`` (dynamic arrays when the target
has them). Runs first at the quant level, so that the precision passes after it see, and
budget, the error the split adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend.target import module_target
from ..dialects import onnx as onnx_dialect
from ..dialects.nn import AttentionOp
from ..dialects.onnx import ConstantOp, NoValueOp, module_opset
from ..dialects.quant import DynamicMatmulOp, DynamicQuantizeOp
from ..interp.interpreter import Interpreter
from ..interp.quant_ops import dynamic_tile_sums
from ..ir.attributes import ArrayAttr, DenseElementsAttr, IntegerAttr, StringAttr
from ..ir.builder import Builder
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.types import RankedTensorType, f32, i8
from ..ir.types import none as none_type
from ..pm import Pass, PassFailure, register_pass
from ..precision.calibration import calibration_for
from ..precision.numerics.adc import ADC_CRITERIA
from ..precision.numerics.crossbar import calibrate_shift
from ..precision.runner import run_streams

PLACEMENTS = ("auto", "dynamic-arrays", "cores")


def dynamic_group(target):
    """The target's first group of dynamic arrays, None when it has none."""
    return next((g for g in target.arrays if g.kind == "dynamic"), None)


@register_pass
@dataclass(frozen=True)
class AttentionSplitPass(Pass):
    """Splits every ``nn.attention`` per (batch, head): the dynamic products Q·Kᵀ and P·V as
    ``quant.dynamic_matmul`` ops on per-vector int8 operands (written into the target's dynamic
    arrays), scale, mask and softmax between them, the head reshapes around them. Calibrates
    each product's ADC step. ``placement=cores`` leaves attention on the cores."""

    name = "attention-split"
    summary = "Attention per head: Q·Kᵀ and P·V on the dynamic arrays, softmax between"

    placement: str = field(default="auto", metadata={"help": "auto | dynamic-arrays | cores"})
    adc_criterion: str = field(default="mse", metadata={"help": "ADC step: mse | fraction"})
    calibration: str = field(
        default="", metadata={"help": "calibration .npz (else attached/synthetic)"}
    )

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}")
        if self.adc_criterion not in ADC_CRITERIA:
            raise ValueError(f"adc-criterion must be one of {', '.join(ADC_CRITERIA)}")

    def run(self, module: ModuleOp) -> bool:
        ops = [op for op in module.walk() if isinstance(op, AttentionOp)]
        if not ops or self.placement == "cores":
            return False
        target = module_target(module)
        group = dynamic_group(target)
        if group is None:
            if self.placement == "auto":
                return False
            raise PassFailure(
                f"target '{target.name}' has no dynamic arrays for attention "
                "(--attention cores keeps attention on the cores)",
                ops[0].location,
            )
        for op in ops:
            why = unsplittable(op)
            if why:
                raise PassFailure(f"cannot split this attention: {why}", op.location)
        splitter = _Splitter(module, group, self.adc_criterion)
        run_streams(
            module,
            calibration_for(module, self.calibration),
            wants=lambda op: isinstance(op, AttentionOp),
            callback=splitter.split,
            ref=False,
        )
        return True

    def ensures(self, module: ModuleOp) -> None:
        if self.placement == "cores":
            return
        for op in module.walk():
            if isinstance(op, AttentionOp) and dynamic_group(module_target(module)) is not None:
                raise PassFailure("an attention op was left unsplit", op.location)


def unsplittable(op: AttentionOp) -> str | None:
    """Why ``op`` cannot be split (None when it can)."""
    q, k, v = (x.type for x in op.operands[:3])
    if not all(isinstance(t, RankedTensorType) and t.rank == 3 for t in (q, k, v)):
        return "q, k and v must be [batch, sequence, heads·size] tensors"
    if any(d is None for t in (q, k, v) for d in t.shape):
        return "shapes must be static (pin them with --input-shape)"
    if any(str(t.element_type) != "f32" for t in (q, k, v)):
        return "q, k and v must be float32"
    h = op.get_attr("num_heads")
    if q.shape[2] % h or v.shape[2] % h or q.shape[2] != k.shape[2]:
        return f"{h} heads do not divide the projections {q}, {k}, {v}"
    return None


class _Splitter:
    """Builds the split ops for one attention op at a time and calibrates their ADC steps on
    the calibration chunks the stream run hands over."""

    def __init__(self, module: ModuleOp, group, criterion: str):
        self.group = group
        self.bits = int(group.dac_bits)
        self.adc_bits = int(group.adc_bits)
        self.rows = int(group.rows)
        self.criterion = criterion
        self.opset = module_opset(module)
        self.interp = Interpreter(module, check_types=True)
        self.chunks = 0

    def split(self, op: AttentionOp, _ref, ins: list, _run) -> list[Operation]:
        q, k, v, *masks = op.operands
        mask = masks[0] if masks and masks[0].type != none_type else None
        zero_mask = masks[1] if len(masks) > 1 and masks[1].type != none_type else None
        b, sq, hd = q.type.shape
        sk = k.type.shape[1]
        h = int(op.get_attr("num_heads"))
        d, dv = hd // h, v.type.shape[2] // h
        g = _Graph(Builder.before(op), op.location, self.opset)
        env = {id(x): chunks for x, chunks in zip(op.operands, ins) if chunks is not None}
        self.chunks = len(ins[0])

        qc, qs = g.heads_quantized(q, (b, sq, h, d), (0, 2, 1, 3), (0, 2, 1, 3), self.bits)
        kc, ks = g.heads_quantized(k, (b, sk, h, d), (0, 2, 3, 1), (0, 2, 3, 1), self.bits)
        s = g.dynamic_matmul(qc, qs, kc, ks, self.rows, self.adc_bits, "QK")
        self._calibrate(g, s.owner, env)
        s = g.binary("Mul", s, g.scalar(op.get_attr("scale")))
        if mask is not None:
            s = g.binary("Add", s, mask)
        p = g.softmax(s)
        if zero_mask is not None:
            p = g.where(zero_mask, g.scalar(0.0), p)
        vc, vs = g.heads_quantized(v, (b, sk, h, dv), (0, 2, 1, 3), (0, 2, 3, 1), self.bits)
        pc, ps = g.quantized(g.binary("Mul", p, vs), self.bits)
        y = g.dynamic_matmul(pc, ps, vc, None, self.rows, self.adc_bits, "PV")
        self._calibrate(g, y.owner, env)
        y = g.reshape(g.transpose(y, (0, 2, 1, 3)), (b, sq, h * dv))
        op.results[0].replace_all_uses_with(y)
        op.erase()
        return g.ops

    def _calibrate(self, g: _Graph, product: DynamicMatmulOp, env: dict) -> None:
        """Set ``product``'s ADC step from the integer sums it computes on the calibration
        chunks (evaluating the new ops up to it)."""
        chunks = self.chunks
        for new in g.ops[g.evaluated :]:
            if new is product:
                break
            inputs = [env.get(id(x)) for x in new.operands]
            outs = [
                self.interp.evaluate(new, [None if i is None else i[c] for i in inputs])
                for c in range(chunks)
            ]
            for index, result in enumerate(new.results):
                env[id(result)] = [o[index] for o in outs]
            g.evaluated += 1
        if self.adc_bits:
            a, bt = env[id(product.operands[0])], env[id(product.operands[2])]
            sums = np.concatenate(
                [s for ac, bc in zip(a, bt) for s in dynamic_tile_sums(ac, bc, self.rows)]
            )
            shift = calibrate_shift(sums, self.adc_bits, self.criterion, sums.shape[1])[0]
            product.attributes["adc_shift"] = IntegerAttr(int(min(shift, 31)))


class _Graph:
    """Creates onnx and quant ops before the attention op, remembering them in order."""

    def __init__(self, builder: Builder, loc, opset: int):
        self.b, self.loc, self.opset = builder, loc, opset
        self.ops: list[Operation] = []
        self.evaluated = 0

    def add(self, op: Operation) -> Operation:
        self.ops.append(self.b.insert(op))
        return op

    def const(self, array: np.ndarray) -> Value:
        attr = DenseElementsAttr.from_array(array)
        return self.add(ConstantOp.build(attr, self.loc)).results[0]

    def scalar(self, x: float) -> Value:
        return self.const(np.array(x, dtype=np.float32))

    def onnx(self, op_type: str, operands, result_type, **attrs) -> Value:
        cls = onnx_dialect.ONNX_OPS[op_type]
        op = cls.create(list(operands), [result_type], attrs, location=self.loc)
        return self.add(op).results[0]

    def reshape(self, x: Value, shape) -> Value:
        t = RankedTensorType(tuple(shape), x.type.element_type)
        return self.onnx("Reshape", [x, self.const(np.array(shape, dtype=np.int64))], t)

    def transpose(self, x: Value, perm) -> Value:
        t = RankedTensorType(tuple(x.type.shape[p] for p in perm), x.type.element_type)
        return self.onnx("Transpose", [x], t, perm=ArrayAttr(tuple(IntegerAttr(p) for p in perm)))

    def binary(self, op_type: str, a: Value, b: Value) -> Value:
        return self.onnx(op_type, [a, b], a.type)

    def softmax(self, x: Value) -> Value:
        return self.onnx("Softmax", [x], x.type, axis=IntegerAttr(-1))

    def where(self, cond: Value, a: Value, b: Value) -> Value:
        return self.onnx("Where", [cond, a, b], b.type)

    def quantized(self, x: Value, bits: int) -> tuple[Value, Value]:
        shape = x.type.shape
        op = DynamicQuantizeOp.create(
            [x],
            [RankedTensorType(shape, i8), RankedTensorType((*shape[:-1], 1), f32)],
            {"bits": IntegerAttr(bits)},
            location=self.loc,
        )
        return tuple(self.add(op).results)

    def heads_quantized(self, x: Value, shape, perm, scale_perm, bits: int):
        """``x`` [B, S, H·D] as per-(token, head) int8 vectors, codes and scales transposed by
        ``perm`` / ``scale_perm`` from [B, S, H, D] / [B, S, H, 1]."""
        codes, scales = self.quantized(self.reshape(x, shape), bits)
        return self.transpose(codes, perm), self.transpose(scales, scale_perm)

    def dynamic_matmul(self, a, a_scale, bt, b_scale, rows: int, adc_bits: int, role: str):
        shape = (*a.type.shape[:-1], bt.type.shape[-1])
        if b_scale is None:
            b_scale = self.add(NoValueOp.create(result_types=[none_type], location=self.loc))
            b_scale = b_scale.results[0]
        operands = [a, a_scale, bt, b_scale]
        op = DynamicMatmulOp.create(
            operands,
            [RankedTensorType(shape, f32)],
            {
                "array_rows": IntegerAttr(rows),
                "adc_bits": IntegerAttr(adc_bits),
                "adc_shift": IntegerAttr(0),
                "quant.role": StringAttr(role),
                # the products are [batch, head, ...]: dynamic-array-map tags each group's jobs
                # with its head, which the debug table and the run report keep
                "quant.head_axis": IntegerAttr(1),
            },
            location=self.loc,
        )
        return self.add(op).results[0]
