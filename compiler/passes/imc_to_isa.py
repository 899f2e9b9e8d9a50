"""imc-to-isa: the placed, scheduled imc program as instructions, tensors and constants.

Every imc job becomes the instructions of its unit with addresses resolved from the buffers
``plan-memory`` chose and arrays from the windows ``combined-stationary-map`` placed; views and
empty buffers become nothing. The module's function is replaced by the flat program: the tensor
table (the model's inputs and outputs by name, every constant), the constant blobs, and the
instructions in schedule order, ending with ``halt``. Refuses any op still holding a ``?``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..backend.constants import op_constants
from ..backend.places import CONST_BUFFER, CONST_BUFFERS, Places
from ..backend.target import module_target
from ..dialects import imc, isa
from ..dialects.func import FuncOp, ReturnOp
from ..dialects.nn import GeluOp, LayerNormOp
from ..dialects.onnx import ConstantOp, NoValueOp, SoftmaxOp
from ..interp.interpreter import arg_names, result_names
from ..ir.attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseElementsAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
)
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.diagnostics import IRError
from ..ir.types import RankedTensorType, numpy_dtype
from ..pm import Pass, PassFailure, register_pass
from .nonlinear_offload import ELTWISE, eltwise_form

#: numpy dtype name -> ISA dtype name
ISA_DTYPE = {
    "int8": "i8",
    "uint8": "u8",
    "int16": "i16",
    "uint16": "u16",
    "int32": "i32",
    "uint32": "u32",
    "int64": "i64",
    "uint64": "u64",
    "float16": "f16",
    "float32": "f32",
    "float64": "f64",
    "bool": "bool",
}
MAX_JOBS = (1 << 16) - 1  # xb.mvm's n_inner / n_outer fields
MAX_ROW_BYTES = (1 << 24) - 1  # dma's row_bytes field
_NAME_BAD = re.compile(r"[^A-Za-z0-9_./]")


def isa_dtype(t: RankedTensorType) -> str:
    name = numpy_dtype(t.element_type).name
    if name not in ISA_DTYPE:
        raise KeyError(name)
    return ISA_DTYPE[name]


def table_name(name: str) -> str:
    """``name`` as the tensor table allows it (letters, digits, ``_./``; a letter or ``_`` first)."""
    out = _NAME_BAD.sub("_", name)[:255] or "_"
    return out if re.match(r"[A-Za-z_]", out) else "_" + out[:254]


def _attr(value) -> Attribute:
    if isinstance(value, bool):
        return BoolAttr(value)
    if isinstance(value, int):
        return IntegerAttr(value)
    if isinstance(value, float):
        return FloatAttr(value)
    return StringAttr(value)


@register_pass
@dataclass(frozen=True)
class ImcToIsaPass(Pass):
    """Lowers the placed imc program to the isa dialect: instructions with resolved addresses,
    the tensor table and the constant blobs."""

    name = "imc-to-isa"
    summary = "Lower the placed imc program to ISA instructions, tensors and constants"

    def requires(self, module: ModuleOp) -> None:
        for op in module.walk():
            if isinstance(op, imc.ImcOp) and op.unallocated():
                raise PassFailure(
                    f"'{op.name}' still has unallocated {', '.join(op.unallocated())}: run "
                    "combined-stationary-map and plan-memory first",
                    op.location,
                )
            if isinstance(op, imc.ImcOp) and imc.has_buffers(op) and "buffers" not in op.attributes:
                raise PassFailure(f"'{op.name}' has no buffer: run plan-memory", op.location)

    def run(self, module: ModuleOp) -> bool:
        target = module_target(module)
        func = next(op for op in module.body.ops if isinstance(op, FuncOp))
        lowering = _Lowering(func)
        out = lowering.program()
        for op in list(module.body.ops):
            op.drop_all_references()
        for op in list(module.body.ops):
            op.detach()
        for op in out:
            module.body.append(op)
        module.attributes[isa.TARGET_ATTR] = StringAttr(target.name)
        module.attributes[isa.FINGERPRINT_ATTR] = StringAttr(target.fingerprint_bytes.hex())
        for key, pairs in (("isa.inputs", lowering.inputs), ("isa.outputs", lowering.outputs)):
            module.attributes[key] = ArrayAttr(
                tuple(ArrayAttr((StringAttr(a), StringAttr(b))) for a, b in pairs)
            )
        return True


class _Lowering:
    def __init__(self, func: FuncOp):
        self.func = func
        self.instrs: list[Operation] = []
        self.tables: list[Operation] = []
        self.names: set[str] = set()
        self.places = Places(func)
        #: (model name, tensor table name) of each input and output, in order
        self.inputs: list[tuple[str, str]] = []
        self.outputs: list[tuple[str, str]] = []

    # --- names and places ------------------------------------------------------------------
    def unique(self, name: str) -> str:
        base = table_name(name)
        out, k = base, 1
        while out in self.names:
            out, k = f"{base}.{k}", k + 1
        self.names.add(out)
        return out

    def where(self, v: Value) -> tuple[str, int] | None:
        """(memory, address) of a value; None for an absent one."""
        try:
            return self.places.of(v)
        except IRError as exc:
            raise PassFailure(str(exc), exc.loc) from None

    def operand(self, v: Value) -> ArrayAttr:
        place = self.where(v)
        if place is None or not isinstance(v.type, RankedTensorType):
            return ArrayAttr(())
        mem, addr = place
        shape = ArrayAttr(tuple(IntegerAttr(d) for d in v.type.shape))
        return ArrayAttr((StringAttr(mem), IntegerAttr(addr), StringAttr(isa_dtype(v.type)), shape))

    # --- emission --------------------------------------------------------------------------
    def emit(self, mnemonic: str, src: Operation, **fields) -> None:
        cls = isa.INSTR_OPS[mnemonic]
        attrs = {k: v if isinstance(v, Attribute) else _attr(v) for k, v in fields.items()}
        attrs["isa.from"] = StringAttr(src.name)
        if src.get_attr("layer"):
            attrs["isa.layer"] = StringAttr(src.get_attr("layer"))
        if src.get_attr("head") is not None:
            attrs["isa.head"] = IntegerAttr(int(src.get_attr("head")))
        self.instrs.append(cls.create(attributes=attrs, location=src.location))

    def tensor(self, name, role, dtype, shape, mem, addr, loc) -> None:
        attrs = {
            "name": StringAttr(name),
            "role": StringAttr(role),
            "dtype": StringAttr(dtype),
            "shape": ArrayAttr(tuple(IntegerAttr(int(d)) for d in shape)),
            "mem": StringAttr(mem),
            "addr": IntegerAttr(int(addr)),
        }
        self.tables.append(isa.TensorOp.create(attributes=attrs, location=loc))

    def const(self, name, dtype, values: np.ndarray, mem, addr, loc) -> None:
        value = DenseElementsAttr.from_array(np.ascontiguousarray(values), hint=name)
        attrs = {"name": StringAttr(name), "dtype": StringAttr(dtype), "value": value}
        self.tables.append(isa.ConstOp.create(attributes=attrs, location=loc))
        self.tensor(name, "const", dtype, values.shape, mem, addr, loc)

    def program(self) -> list[Operation]:
        func = self.func
        for name, arg in zip(arg_names(func), func.body.args):
            mem, addr = self.where(arg)
            self.inputs.append((name, self.unique(name)))
            t = arg.type
            self.tensor(
                self.inputs[-1][1], "input", isa_dtype(t), t.shape, mem, addr, func.location
            )
        ret = func.body.terminator
        for name, v in zip(result_names(func), ret.operands):
            mem, addr = self.where(v)
            self.outputs.append((name, self.unique(name)))
            t = v.type
            self.tensor(
                self.outputs[-1][1], "output", isa_dtype(t), t.shape, mem, addr, func.location
            )
        for op in list(func.body.ops):
            if isinstance(op, ReturnOp):
                continue
            self.lower(op)
        halt = isa.INSTR_OPS["halt"].create(location=func.location)
        return [*self.tables, *self.instrs, halt]

    def lower(self, op: Operation) -> None:
        if isinstance(op, ConstantOp):
            if op.results[0].uses:
                mem, addr = op.get_attr(CONST_BUFFER)[0]
                value = op.attributes["value"].array
                dtype = isa_dtype(op.results[0].type)
                self.const(self.unique(f"const.{_layer(op)}"), dtype, value, mem, addr, op.location)
            return
        fn = _LOWER.get(type(op))
        if fn is None:
            if isinstance(op, NoValueOp | imc.EmptyOp | imc.ReshapeOp):
                return
            raise PassFailure(f"'{op.name}' has no lowering to the ISA", op.location)
        fn(self, op)

    def blobs(self, op: Operation) -> list[tuple[str, int]]:
        """Emit the op's constant blobs; their (memory, address)."""
        places = [tuple(p) for p in op.get_attr(CONST_BUFFERS)]
        for blob, (mem, addr) in zip(op_constants(op), places):
            name = self.unique(f"{_layer(op)}.{blob.role}")
            self.const(name, blob.dtype, blob.values, mem, addr, op.location)
        return places


def _layer(op: Operation) -> str:
    return op.get_attr("layer") or op.name.split(".")[-1]


# --- one function per imc op ------------------------------------------------------------------


def _weights(lw: _Lowering, op: imc.WeightsOp) -> None:
    ((mem, addr),) = lw.blobs(op)
    rows, cols = op.shape
    lw.emit(
        "xb.prog",
        op,
        array=op.get_attr("array"),
        row0=op.get_attr("row0"),
        col0=op.get_attr("col0"),
        rows=rows,
        cols=cols,
        fmt=op.get_attr("fmt"),
        src_mem=mem,
        src_addr=addr,
    )


def _write(lw: _Lowering, op: imc.WriteOp) -> None:
    rows, cols = op.shape
    mem, addr = lw.where(op.operands[0])
    lw.emit(
        "xb.write",
        op,
        array=op.get_attr("array"),
        row0=op.get_attr("row0"),
        col0=op.get_attr("col0"),
        rows=rows,
        cols=cols,
        src_mem=mem,
        src_addr=addr + op.get_attr("src_offset"),
        src_stride=op.get_attr("src_stride"),
    )


def _mvm(lw: _Lowering, op: imc.MvmOp) -> None:
    x, window, acc = op.operands
    w = window.owner
    rows, cols = imc.window_shape(window.type)
    xmem, xaddr = lw.where(x)
    amem, aaddr = lw.where(acc)
    width = acc.type.shape[1] * 4
    g = op.gather()
    chunks = [(0, g["n_inner"])]
    if g["n_inner"] > MAX_JOBS and g["n_outer"] == 1 and g["n_batch"] == 1:
        chunks = [(j, min(j + MAX_JOBS, g["n_inner"])) for j in range(0, g["n_inner"], MAX_JOBS)]
    for j0, j1 in chunks:
        lw.emit(
            "xb.mvm",
            op,
            array=w.get_attr("array"),
            row0=w.get_attr("row0"),
            col0=w.get_attr("col0"),
            rows=rows,
            cols=cols,
            src_mem=xmem,
            src_addr=xaddr + g["x_offset"] + j0 * g["inner_stride"],
            src_dtype=isa_dtype(x.type),
            seg_count=g["seg_count"],
            seg_len=g["seg_len"],
            seg_stride=g["seg_stride"],
            inner_stride=g["inner_stride"],
            outer_stride=g["outer_stride"],
            n_inner=j1 - j0,
            n_outer=g["n_outer"],
            n_batch=g["n_batch"],
            batch_stride=g["batch_stride"],
            dst_mem=amem,
            dst_addr=aaddr + (op.get_attr("dst_row") + j0) * width + op.get_attr("dst_col") * 4,
            dst_stride=width,
            acc=bool(op.get_attr("acc_mode")),
            adc_shift=op.get_attr("adc_shift"),
        )


def _core(op) -> dict:
    """The cores a cluster job runs on (nothing for a job of the nonlinear unit)."""
    return {} if op.get_attr("unit") == "nl" else {"ncores": op.get_attr("ncores")}


def _prefix(op) -> str:
    """``nl`` for a periphery job nonlinear-offload put on the nonlinear unit, else ``cl``."""
    return "nl" if op.get_attr("unit") == "nl" else "cl"


def _requant(lw: _Lowering, op: imc.RequantOp) -> None:
    places = iter(lw.blobs(op))
    smem, saddr = next(places)
    fields = {}
    if op.dense("offset") is not None:
        mem, addr = next(places)
        fields.update(has_offset=True, offset_mem=mem, offset_addr=addr)
    if op.dense("bias") is not None:
        mem, addr = next(places)
        fields.update(has_bias=True, bias_mem=mem, bias_addr=addr)
    else:
        fields.update(has_bias=False, bias_mem=smem, bias_addr=saddr)
    rs = op.operand("row_scale")
    if rs is not None:
        mem, addr = lw.where(rs)
        fields.update(has_row_scale=True, row_scale_mem=mem, row_scale_addr=addr)
    x, y = op.operands[0], op.results[0]
    xmem, xaddr = lw.where(x)
    ymem, yaddr = lw.where(y)
    lw.emit(
        f"{_prefix(op)}.requant",
        op,
        **_core(op),
        src_mem=xmem,
        src_addr=xaddr,
        src_dtype=isa_dtype(x.type),
        dst_mem=ymem,
        dst_addr=yaddr,
        dst_dtype=isa_dtype(y.type),
        rows=x.type.shape[0],
        channels=op.channels,
        scale_mem=smem,
        scale_addr=saddr,
        zp=op.get_attr("zp"),
        lo=op.get_attr("lo"),
        hi=op.get_attr("hi"),
        planes=op.get_attr("planes"),
        **fields,
    )


def _quant(lw: _Lowering, op: imc.QuantOp) -> None:
    (xmem, xaddr), (ymem, yaddr) = lw.where(op.operands[0]), lw.where(op.results[0])
    lw.emit(
        f"{_prefix(op)}.quant",
        op,
        **_core(op),
        src_mem=xmem,
        src_addr=xaddr,
        dst_mem=ymem,
        dst_addr=yaddr,
        dst_dtype=isa_dtype(op.results[0].type),
        count=int(np.prod(op.operands[0].type.shape)),
        scale=op.get_attr("scale"),
        zp=op.get_attr("zp"),
        lo=op.get_attr("lo"),
        hi=op.get_attr("hi"),
    )


def _places(lw: _Lowering, **values: Value) -> dict:
    """``NAME_mem`` and ``NAME_addr`` fields for each ``NAME=value``: where the value lives."""
    fields = {}
    for name, value in values.items():
        fields[f"{name}_mem"], fields[f"{name}_addr"] = lw.where(value)
    return fields


def _dquant(lw: _Lowering, op: imc.DQuantOp) -> None:
    x = op.operands[0]
    n = x.type.shape[-1]
    lw.emit(
        f"{_prefix(op)}.dquant",
        op,
        **_core(op),
        **_places(lw, src=x, dst=op.results[0], scale=op.results[1]),
        rows=int(np.prod(x.type.shape)) // n,
        n=n,
        bits=op.get_attr("bits"),
    )


def _dwconv(lw: _Lowering, op: imc.DwConvOp) -> None:
    ((wmem, waddr),) = lw.blobs(op)
    x, y = op.operands[0], op.results[0]
    (xmem, xaddr), (ymem, yaddr) = lw.where(x), lw.where(y)
    n, h, w, c = x.type.shape
    _, ho, wo, _ = y.type.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = op.geometry()
    on_dw = op.get_attr("unit") == "dw"
    extra = {} if on_dw else _core(op)
    for img in range(n):
        lw.emit(
            "dw.conv" if on_dw else "cl.dwconv",
            op,
            **extra,
            src_mem=xmem,
            src_addr=xaddr + img * h * w * c,
            src_dtype=isa_dtype(x.type),
            wgt_mem=wmem,
            wgt_addr=waddr,
            dst_mem=ymem,
            dst_addr=yaddr + img * ho * wo * c * 4,
            h=h,
            w=w,
            c=c,
            kh=kh,
            kw=kw,
            stride_h=sh,
            stride_w=sw,
            pad_t=pt,
            pad_l=pl,
            pad_b=pb,
            pad_r=pr,
            dil_h=dh,
            dil_w=dw,
            pad_value=op.get_attr("pad_value"),
        )


def _kernel(lw: _Lowering, op: imc.KernelOp) -> None:
    if op.get_attr("unit") == "nl":
        _nonlinear_unit(lw, op)
        return
    lw.emit(
        "cl.call",
        op,
        **_core(op),
        kernel=op.get_attr("kernel"),
        params=op.attributes["params"],
        opset=op.get_attr("opset"),
        layout=op.get_attr("layout", ""),
        inputs=ArrayAttr(tuple(lw.operand(v) for v in op.operands)),
        outputs=ArrayAttr(tuple(lw.operand(v) for v in op.results)),
    )


def _nonlinear_unit(lw: _Lowering, op: imc.KernelOp) -> None:
    """A softmax, LayerNorm, GELU or elementwise op that nonlinear-offload put on the
    nonlinear unit."""
    kernel = op.get_attr("kernel")
    if kernel in ELTWISE:
        _eltwise(lw, op, kernel)
        return
    x, y = op.operands[0], op.results[0]
    (xmem, xaddr), (ymem, yaddr) = lw.where(x), lw.where(y)
    count = int(np.prod(x.type.shape))
    if kernel == SoftmaxOp.name:
        n = x.type.shape[-1]
        lw.emit(
            "nl.softmax",
            op,
            src_mem=xmem,
            src_addr=xaddr,
            dst_mem=ymem,
            dst_addr=yaddr,
            rows=count // n if n else 0,
            n=n,
        )
        return
    if kernel == GeluOp.name:
        lw.emit(
            "nl.gelu", op, src_mem=xmem, src_addr=xaddr, dst_mem=ymem, dst_addr=yaddr, count=count
        )
        return
    if kernel != LayerNormOp.name:
        raise PassFailure(f"the nonlinear unit has no instruction for '{kernel}'", op.location)
    n = x.type.shape[-1]
    (gmem, gaddr), (bmem, baddr) = lw.where(op.operands[1]), lw.where(op.operands[2])
    lw.emit(
        "nl.layernorm",
        op,
        src_mem=xmem,
        src_addr=xaddr,
        dst_mem=ymem,
        dst_addr=yaddr,
        rows=count // n if n else 0,
        n=n,
        gamma_mem=gmem,
        gamma_addr=gaddr,
        beta_mem=bmem,
        beta_addr=baddr,
        eps=float(op.attributes["params"].get("epsilon").value),
    )


def _eltwise(lw: _Lowering, op: imc.KernelOp, kernel: str) -> None:
    a, b = op.operands
    y = op.results[0]
    form = eltwise_form(kernel, a.type, b.type, y.type)
    if form is None:
        raise PassFailure(f"the nonlinear unit cannot run this '{kernel}'", op.location)
    swap, bcast = form
    if swap:
        a, b = b, a
    n = y.type.shape[-1]
    lw.emit(
        "nl.eltwise",
        op,
        op=ELTWISE[kernel][0],
        dtype="f32",
        **_places(lw, src=a, src2=b, dst=y),
        rows=int(np.prod(y.type.shape)) // n,
        n=n,
        bcast=bcast,
    )


def _pad(lw: _Lowering, op: imc.PadOp) -> None:
    x, y = op.operands[0], op.results[0]
    n, h, w, c = x.type.shape
    _, hp, wp, _ = y.type.shape
    t, left, _, _ = op.get_attr("pads")
    item = numpy_dtype(x.type.element_type).itemsize
    xmem, xaddr = lw.where(x)
    ymem, yaddr = lw.where(y)
    value = op.get_attr("value") & 0xFF
    lw.emit("fill", op, dst_mem=ymem, dst_addr=yaddr, bytes=n * hp * wp * c * item, value=value)
    for img in range(n):
        lw.emit(
            "dma",
            op,
            src_mem=xmem,
            src_addr=xaddr + img * h * w * c * item,
            dst_mem=ymem,
            dst_addr=yaddr + ((img * hp + t) * wp + left) * c * item,
            rows=h,
            row_bytes=w * c * item,
            src_stride=w * c * item,
            dst_stride=wp * c * item,
        )


def _copy(lw: _Lowering, op: imc.CopyOp) -> None:
    x, y = op.operands[0], op.results[0]
    size = int(np.prod(x.type.shape)) * numpy_dtype(x.type.element_type).itemsize
    (xmem, xaddr), (ymem, yaddr) = lw.where(x), lw.where(y)
    for start in range(0, size, MAX_ROW_BYTES):
        n = min(MAX_ROW_BYTES, size - start)
        lw.emit(
            "dma",
            op,
            src_mem=xmem,
            src_addr=xaddr + start,
            dst_mem=ymem,
            dst_addr=yaddr + start,
            rows=1,
            row_bytes=n,
            src_stride=n,
            dst_stride=n,
        )


def _box_dma(lw: _Lowering, op, whole: Value, part: Value, to_part: bool) -> None:
    """One 2-D DMA between a box of ``whole`` (at the op's offsets) and ``part``."""
    shape, sizes = whole.type.shape, part.type.shape
    offsets = op.get_attr("offsets")
    item = numpy_dtype(whole.type.element_type).itemsize
    inner = int(np.prod(shape[2:], dtype=np.int64)) * item  # bytes of one dim-1 step
    if len(shape) == 1:
        rows, row_bytes, stride, first = 1, sizes[0] * item, shape[0] * item, offsets[0] * item
    else:
        rows, row_bytes = sizes[0], sizes[1] * inner
        stride = shape[1] * inner
        first = offsets[0] * stride + offsets[1] * inner
    (wmem, waddr), (pmem, paddr) = lw.where(whole), lw.where(part)
    src, dst = (
        ((wmem, waddr + first), (pmem, paddr))
        if to_part
        else ((pmem, paddr), (wmem, waddr + first))
    )
    src_stride, dst_stride = (stride, row_bytes) if to_part else (row_bytes, stride)
    if row_bytes > MAX_ROW_BYTES:
        raise PassFailure(
            f"'{op.name}' moves rows of {row_bytes} bytes; a DMA row holds {MAX_ROW_BYTES}",
            op.location,
        )
    lw.emit(
        "dma",
        op,
        src_mem=src[0],
        src_addr=src[1],
        dst_mem=dst[0],
        dst_addr=dst[1],
        rows=rows,
        row_bytes=row_bytes,
        src_stride=src_stride,
        dst_stride=dst_stride,
    )


def _extract(lw: _Lowering, op: imc.ExtractOp) -> None:
    _box_dma(lw, op, op.operands[0], op.results[0], to_part=True)


def _insert(lw: _Lowering, op: imc.InsertOp) -> None:
    _box_dma(lw, op, op.results[0], op.operands[0], to_part=False)


def _sync(mnemonic: str):
    def lower(lw: _Lowering, op) -> None:
        fields = {"ev": op.get_attr("ev")} if mnemonic != "barrier" else {}
        lw.emit(mnemonic, op, **fields)

    return lower


_LOWER = {
    imc.WeightsOp: _weights,
    imc.WriteOp: _write,
    imc.MvmOp: _mvm,
    imc.RequantOp: _requant,
    imc.QuantOp: _quant,
    imc.DQuantOp: _dquant,
    imc.KernelOp: _kernel,
    imc.DwConvOp: _dwconv,
    imc.PadOp: _pad,
    imc.CopyOp: _copy,
    imc.ExtractOp: _extract,
    imc.InsertOp: _insert,
    imc.BarrierOp: _sync("barrier"),
    imc.SignalOp: _sync("signal"),
    imc.WaitOp: _sync("wait"),
}
