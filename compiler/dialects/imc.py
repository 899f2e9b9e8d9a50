"""The ``imc`` dialect: the program at the level of the chip's units, between ``quant`` and the ISA.

Values are tensors as they lie in memory (activations of crossbar layers are NHWC, accumulators
are ``[jobs, columns]`` int32); every op is one job for one unit of the target and has an exact
executable definition (``compiler/interp/imc_ops.py``), so a module at this level runs in the
reference interpreter and agrees bit for bit with the program the ISA level emits from it.

- **arrays**: ``imc.weights`` programs a block of cells into an array window; ``imc.mvm`` runs a
  whole layer's matrix-vector products on one window, its inputs gathered from memory by an
  im2col descriptor, its ADC readings written into (or added to) a block of an accumulator;
- **cluster cores** (``unit = "cluster"``, ``ncores``): ``imc.requant`` (accumulators back to
  floats or codes, ternary planes summed, zero point and bias), ``imc.quant`` (the DAC's static
  quantization), ``imc.dquant`` (per-vector dynamic quantization), ``imc.pool``,
  ``imc.eltwise`` and ``imc.kernel``, a call of any kernel of the cores' library (every ONNX op
  the frontend accepts, in ONNX semantics);
- **memory**: ``imc.empty`` (a buffer whose contents the ops that follow define), ``imc.pad``
  (a halo around NHWC images, done by the DMA), ``imc.copy``, ``imc.extract`` and
  ``imc.insert`` (a box of a tensor into a buffer of its own and back: a tile brought into L1
  and its result stored), ``imc.reshape`` (a view: same bytes, new shape);
- **synchronisation**: ``imc.barrier``, ``imc.signal``, ``imc.wait`` (timing only).

Physical resources start unallocated and allocation passes fill them: an array window
(``array``, ``row0``, ``col0`` of ``imc.weights``) is ``?`` until ``combined-stationary-map``
places it; every value's memory (``buffers``, one ``[memory, byte offset]`` per result) is ``?``
until ``plan-memory`` assigns it. ``imc-to-isa`` refuses an op that still holds a ``?``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..ir.attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseElementsAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    UnallocatedAttr,
)
from ..ir.diagnostics import VerificationError
from ..ir.ops import AttrDef, IROp, OperandDef, Pure, ResultDef, tensor_or_none, tensor_type
from ..ir.types import DialectType, FloatType, RankedTensorType, Type

#: Units an op can be placed on (the ISA's unit names).
UNITS = ("array", "cluster", "nl", "dw", "dma", "control")
#: Weight packings ``imc.weights`` accepts (the ISA's ``xb.prog`` formats).
WEIGHT_FORMATS = ("t2", "i4")
POOL_KINDS = ("max", "avg")
ELTWISE_OPS = ("add", "sub", "mul", "max", "min")
MEMORIES = ("L2", "L1")

_Place = (IntegerAttr, UnallocatedAttr)
_Buffers = (ArrayAttr, UnallocatedAttr)


def window_type(rows: int, cols: int) -> DialectType:
    """``!imc.window<ROWSxCOLS>``: an array window holding programmed weights."""
    return DialectType("imc", "window", f"{rows}x{cols}")


def window_shape(t: Type) -> tuple[int, int] | None:
    """(rows, cols) of a window type, None for any other type."""
    if not isinstance(t, DialectType) or (t.dialect, t.name) != ("imc", "window"):
        return None
    try:
        rows, cols = (int(v) for v in (t.body or "").split("x"))
    except ValueError:
        return None
    return rows, cols


def is_window(t: Type) -> bool:
    return window_shape(t) is not None


is_window.description = "an array window (!imc.window<RxC>)"


def _size(t: RankedTensorType) -> int:
    return math.prod(t.shape)


def _static(t: Type) -> bool:
    return isinstance(t, RankedTensorType) and all(d is not None for d in t.shape)


class ImcOp(IROp):
    """Shared helpers: error wording, allocation state."""

    def fail(self, message: str) -> None:
        raise VerificationError(f"'{self.name}' {message}", self.location)

    def dense(self, key: str) -> np.ndarray | None:
        a = self.attributes.get(key)
        return None if a is None else a.array

    def unallocated(self) -> list[str]:
        """Names of the attributes that still hold ``?``."""
        return sorted(k for k, v in self.attributes.items() if isinstance(v, UnallocatedAttr))

    def check_window_place(self) -> None:
        """The window's array, row0 and col0 are non-negative where placed."""
        for key in ("array", "row0", "col0"):
            v = self.get_attr(key)
            if v is not None and v < 0:
                self.fail(f"'{key}' must be non-negative, got {v}")

    def check_static(self) -> None:
        for v in (*self.operands, *self.results):
            if isinstance(v.type, RankedTensorType) and not _static(v.type):
                self.fail(f"needs static shapes, got {v.type}")

    def check_buffers(self) -> None:
        b = self.attributes.get("buffers")
        if b is None or isinstance(b, UnallocatedAttr):
            return
        if len(b.elements) != len(self.results):
            self.fail(f"needs one buffer per result, got {len(b.elements)}")
        for e in b.elements:
            v = e.value
            if (
                not isinstance(v, list)
                or len(v) != 2
                or v[0] not in MEMORIES
                or not isinstance(v[1], int)
                or v[1] < 0
            ):
                self.fail(f"buffers must hold [memory, byte offset] pairs, got {v}")

    def buffer(self, index: int = 0) -> tuple[str, int] | None:
        """(memory, byte offset) of result ``index``, None while unallocated."""
        b = self.attributes.get("buffers")
        if b is None or isinstance(b, UnallocatedAttr):
            return None
        mem, offset = b.elements[index].value
        return mem, offset

    @property
    def layer(self) -> str:
        """The layer (ONNX node) this job belongs to, for reports."""
        return self.get_attr("layer", "")


def _buffers_attr() -> AttrDef:
    return AttrDef("buffers", _Buffers, doc="[[memory, offset], ...] per result, or ?")


_LAYER = AttrDef("layer", StringAttr, doc="the layer (ONNX node) the job belongs to")
_HEAD = AttrDef("head", IntegerAttr, doc="the attention head the job computes, for reports")
#: Where an array window sits: the array and its first row and column (``?`` until placed).
_WINDOW_PLACE = tuple(AttrDef(k, _Place, required=True) for k in ("array", "row0", "col0"))
_UNIT = AttrDef("unit", StringAttr, required=True, doc="the unit that runs the job")
_NCORES = AttrDef("ncores", IntegerAttr, doc="cluster cores the kernel runs on")


class CoreOp(ImcOp):
    """An op that runs on the cluster (``unit = "cluster"``, ``ncores`` cores) or a unit like it."""

    traits = frozenset({Pure})
    units: tuple[str, ...] = ("cluster",)

    def check_unit(self) -> None:
        unit = self.get_attr("unit")
        if unit not in self.units:
            self.fail(f"runs on {' or '.join(self.units)}, not '{unit}'")
        n = self.get_attr("ncores")
        if unit == "cluster" and (n is None or n < 1):
            self.fail("needs ncores >= 1 on the cluster")


# --- arrays --------------------------------------------------------------------------------------


class WeightsOp(ImcOp):
    """Program a block of weights into an array window: ``cells`` (int8 ``[rows, cols]``, each
    value within the target's cell range) go to rows ``row0..row0+rows`` and columns
    ``col0..col0+cols`` of array ``array``, packed as ``fmt`` (``t2`` ternary, ``i4`` 4-bit). The
    result names the window for the ``imc.mvm`` jobs that use it. Not pure: programming an array
    overwrites what it held, so these ops keep their place in the program order.

    Example:
        %w = "imc.weights"() {array = ?, cells = dense<[[1, 0], [0, -1]]> : tensor<2x2xi8>, col0 = ?, fmt = "t2", layer = "fc", row0 = ?} : () -> !imc.window<2x2>
    """

    name = "imc.weights"
    result_defs = (ResultDef("window", is_window),)
    attr_defs = (
        AttrDef("cells", DenseElementsAttr, required=True),
        AttrDef("fmt", StringAttr, required=True),
        *_WINDOW_PLACE,
        _LAYER,
    )

    def verify_(self) -> None:
        cells = self.attributes["cells"]
        if str(cells.type.element_type) != "i8" or cells.type.rank != 2:
            self.fail(f"cells must be i8 [rows, cols], got {cells.type}")
        if window_shape(self.results[0].type) != tuple(cells.type.shape):
            self.fail(f"window type {self.results[0].type} does not match cells {cells.type}")
        fmt = self.get_attr("fmt")
        if fmt not in WEIGHT_FORMATS:
            self.fail(f"fmt must be one of {', '.join(WEIGHT_FORMATS)}, got '{fmt}'")
        lo, hi = (-1, 1) if fmt == "t2" else (-7, 7)
        a = cells.array
        if a.size and (a.min() < lo or a.max() > hi):
            self.fail(f"cells must lie in {lo}..{hi} for fmt '{fmt}'")
        self.check_window_place()

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.attributes["cells"].type.shape)


class WriteOp(ImcOp):
    """Write run-time int8 codes into a window of a dynamic array (``xb.write``): element
    ``src_offset + r·src_stride + c`` of ``src`` (flattened) goes to cell (row0 + r, col0 + c)
    of array ``array`` for r < rows, c < cols (the window type). The result names the window
    for the ``imc.mvm`` jobs that read it. Not pure: a write replaces what the cells held.

    Example:
        %w = "imc.write"(%kt) {array = 320, col0 = 0, layer = "attn", row0 = 0, src_offset = 0, src_stride = 8} : (tensor<1x2x16x8xi8>) -> !imc.window<16x8>
    """

    name = "imc.write"
    operand_defs = (OperandDef("src", tensor_type),)
    result_defs = (ResultDef("window", is_window),)
    attr_defs = (
        AttrDef("src_offset", IntegerAttr, required=True),
        AttrDef("src_stride", IntegerAttr, required=True),
        *_WINDOW_PLACE,
        _LAYER,
        _HEAD,
    )

    def verify_(self) -> None:
        src = self.operands[0].type
        if str(src.element_type) != "i8":
            self.fail(f"source must be i8 codes, got {src}")
        self.check_static()
        rows, cols = self.shape
        offset, stride = self.get_attr("src_offset"), self.get_attr("src_stride")
        if offset < 0 or stride < cols:
            self.fail(f"src_offset must be >= 0 and src_stride >= {cols}")
        if rows and offset + (rows - 1) * stride + cols > _size(src):
            self.fail(f"reads past the end of a source of {_size(src)} elements")
        self.check_window_place()

    @property
    def shape(self) -> tuple[int, int]:
        return window_shape(self.results[0].type)


#: The gather descriptor of ``imc.mvm`` (element counts and strides, as xb.mvm's in bytes).
GATHER_KEYS = (
    "x_offset",
    "seg_count",
    "seg_len",
    "seg_stride",
    "inner_stride",
    "outer_stride",
    "n_inner",
    "n_outer",
)
#: Optional outermost loop of the gather: ``n_batch`` (default 1) blocks ``batch_stride`` apart.
BATCH_KEYS = ("n_batch", "batch_stride")


class MvmOp(ImcOp):
    """Matrix-vector products of a whole layer on one array window (``xb.mvm``).

    Job (b, i, j), b < n_batch (default 1), i < n_outer, j < n_inner, reads the input vector
    that concatenates ``seg_count`` runs of ``seg_len`` elements of ``x`` (flattened) starting
    at ``x_offset + b·batch_stride + i·outer_stride + j·inner_stride + k·seg_stride`` (im2col:
    one kernel row per segment, one batch per image); its length is the window's rows. The window computes exact integer column sums; the ADC reads each as
    ``clamp(round_half_even(y / 2^adc_shift), −2^(a−1), 2^(a−1)−1) · 2^adc_shift`` (a the target's
    ADC bits; digital arrays and ideal runs give y exactly). The readings go to row ``dst_row +
    (b·n_outer + i)·n_inner + j``, columns ``dst_col..dst_col+cols`` of the accumulator: the result is ``acc``
    with that block replaced, or, with ``acc_mode = true``, with the readings added (int32,
    saturating). The result and ``acc`` share one buffer (partial sums accumulate in place).

    Example:
        %a1 = "imc.mvm"(%x, %w, %a0) {acc_mode = false, adc_shift = 2, dst_col = 0, dst_row = 0, inner_stride = 4, layer = "fc", n_inner = 3, n_outer = 1, outer_stride = 0, seg_count = 1, seg_len = 4, seg_stride = 0, x_offset = 0} : (tensor<3x4xi8>, !imc.window<4x2>, tensor<3x2xi32>) -> tensor<3x2xi32>
    """

    name = "imc.mvm"
    operand_defs = (
        OperandDef("x", tensor_type),
        OperandDef("window", is_window),
        OperandDef("acc", tensor_type),
    )
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        *(AttrDef(k, IntegerAttr, required=True) for k in GATHER_KEYS),
        *(AttrDef(k, IntegerAttr) for k in BATCH_KEYS),
        AttrDef("dst_row", IntegerAttr, required=True),
        AttrDef("dst_col", IntegerAttr, required=True),
        AttrDef("acc_mode", BoolAttr, required=True),
        AttrDef("adc_shift", IntegerAttr, required=True),
        _LAYER,
        _HEAD,
        _buffers_attr(),
    )

    def gather(self) -> dict[str, int]:
        """The gather descriptor, ``n_batch`` and ``batch_stride`` included (defaults 1, 0)."""
        g = {k: int(self.get_attr(k)) for k in GATHER_KEYS}
        g["n_batch"] = int(self.get_attr("n_batch", 1))
        g["batch_stride"] = int(self.get_attr("batch_stride", 0))
        return g

    @property
    def jobs(self) -> int:
        g = self.gather()
        return g["n_batch"] * g["n_outer"] * g["n_inner"]

    def verify_(self) -> None:
        self.check_static()
        self.check_buffers()
        x, acc, y = (v.type for v in (self.operands[0], self.operands[2], self.results[0]))
        if str(x.element_type) not in ("i8", "ui8"):
            self.fail(f"input must be i8 or ui8 codes, got {x}")
        if str(acc.element_type) != "i32" or acc.rank != 2 or acc != y:
            self.fail(f"accumulator and result must be one int32 [rows, cols] type, got {acc}, {y}")
        rows, cols = window_shape(self.operands[1].type)
        g = self.gather()
        if any(g[k] < 1 for k in ("seg_count", "seg_len", "n_inner", "n_outer", "n_batch")):
            self.fail("seg_count, seg_len, n_inner, n_outer and n_batch must be positive")
        strides = ("x_offset", "seg_stride", "inner_stride", "outer_stride", "batch_stride")
        if any(g[k] < 0 for k in strides):
            self.fail("offsets and strides must be non-negative")
        if g["seg_count"] * g["seg_len"] != rows:
            self.fail(
                f"gathers {g['seg_count']} x {g['seg_len']} inputs per job for a window of "
                f"{rows} rows"
            )
        last = (
            g["x_offset"]
            + (g["n_batch"] - 1) * g["batch_stride"]
            + (g["n_outer"] - 1) * g["outer_stride"]
            + (g["n_inner"] - 1) * g["inner_stride"]
            + (g["seg_count"] - 1) * g["seg_stride"]
            + g["seg_len"]
        )
        if last > _size(x):
            self.fail(f"gathers up to element {last} of an input of {_size(x)}")
        r0, c0 = self.get_attr("dst_row"), self.get_attr("dst_col")
        if r0 < 0 or c0 < 0 or r0 + self.jobs > acc.shape[0] or c0 + cols > acc.shape[1]:
            self.fail(
                f"writes rows {r0}..{r0 + self.jobs} cols {c0}..{c0 + cols} of a "
                f"{acc.shape[0]} x {acc.shape[1]} accumulator"
            )
        if not 0 <= self.get_attr("adc_shift") < 32:
            self.fail("adc_shift must be in 0..31")


# --- cluster kernels ------------------------------------------------------------------------------


class RequantOp(CoreOp):
    """Accumulators back to floats or codes (``cl.requant``): for row r and channel c of the
    ``[rows, planes·C]`` int32 input x (plane-major columns),
    ``v = Σ_j float32(x[r, j·C + c] − offset[j·C + c]) · scale[j·C + c]`` summed over planes
    j = 0, 1, … in float32 (the zero point's column sums are the int32 ``offset``), times the
    per-row scale when ``row_scale`` is given (dynamic input quantization), plus ``bias[c]``.
    An integer result is ``clamp(round_half_even(v) + zp, lo, hi)`` saturated to its type; a
    float result is ``clamp(v, lo, hi)`` (a fused ReLU is ``lo = 0``). The result holds
    rows · C elements in any shape (an NHWC activation).

    Example:
        %y = "imc.requant"(%acc, %none) {hi = inf, lo = 0.0, ncores = 8, planes = 1, scale = dense<[0.5, 0.25]> : tensor<2xf32>, unit = "cluster", zp = 0} : (tensor<4x2xi32>, none) -> tensor<4x2xf32>
    """

    name = "imc.requant"
    operand_defs = (
        OperandDef("x", tensor_type),
        OperandDef("row_scale", tensor_or_none, optional=True),
    )
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("planes", IntegerAttr, required=True),
        AttrDef("scale", DenseElementsAttr, required=True),
        AttrDef("offset", DenseElementsAttr),
        AttrDef("bias", DenseElementsAttr),
        AttrDef("zp", IntegerAttr, required=True),
        AttrDef("lo", FloatAttr, required=True),
        AttrDef("hi", FloatAttr, required=True),
        _UNIT,
        _NCORES,
        _LAYER,
        _buffers_attr(),
    )

    @property
    def channels(self) -> int:
        return self.operands[0].type.shape[1] // int(self.get_attr("planes"))

    units = ("cluster", "nl")

    def verify_(self) -> None:
        self.check_unit()
        self.check_static()
        self.check_buffers()
        x, y = self.operands[0].type, self.results[0].type
        planes = self.get_attr("planes")
        if str(x.element_type) != "i32" or x.rank != 2 or planes < 1 or x.shape[1] % planes:
            self.fail(f"input must be int32 [rows, planes·C], got {x} with {planes} planes")
        c = x.shape[1] // planes
        if str(y.element_type) not in ("f32", "i8", "ui8", "i32") or _size(y) != x.shape[0] * c:
            self.fail(f"result must hold {x.shape[0]} x {c} f32/i8/ui8/i32 values, got {y}")
        for key, n, et in (("scale", planes * c, "f32"), ("offset", planes * c, "i32")):
            a = self.attributes.get(key)
            if a is not None and (a.type.shape != (n,) or str(a.type.element_type) != et):
                self.fail(f"'{key}' must be tensor<{n}x{et}>, got {a.type}")
        b = self.attributes.get("bias")
        if b is not None and (b.type.shape != (c,) or str(b.type.element_type) != "f32"):
            self.fail(f"'bias' must be tensor<{c}xf32>, got {b.type}")
        rs = self.operand("row_scale")
        if rs is not None and (str(rs.type.element_type) != "f32" or _size(rs.type) != x.shape[0]):
            self.fail(f"row_scale must hold {x.shape[0]} f32 values, got {rs.type}")
        if isinstance(y.element_type, FloatType) and self.get_attr("zp"):
            self.fail("a float result has no zero point")


class QuantOp(CoreOp):
    """The DAC's static quantization (``cl.quant``): ``clamp(round_half_even(x / scale) + zp,
    lo, hi)`` in float32, to i8 or ui8 codes of the input's shape.

    Example:
        %q = "imc.quant"(%x) {hi = 127, lo = -127, ncores = 8, scale = 0.5, unit = "cluster", zp = 0} : (tensor<4x2xf32>) -> tensor<4x2xi8>
    """

    name = "imc.quant"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("q", tensor_type),)
    attr_defs = (
        AttrDef("scale", FloatAttr, required=True),
        AttrDef("zp", IntegerAttr, required=True),
        AttrDef("lo", IntegerAttr, required=True),
        AttrDef("hi", IntegerAttr, required=True),
        _UNIT,
        _NCORES,
        _LAYER,
        _buffers_attr(),
    )
    units = ("cluster", "nl")

    def verify_(self) -> None:
        self.check_unit()
        self.check_static()
        self.check_buffers()
        x, q = self.operands[0].type, self.results[0].type
        if str(x.element_type) != "f32" or str(q.element_type) not in ("i8", "ui8"):
            self.fail(f"quantizes f32 to i8/ui8, got {x} -> {q}")
        if x.shape != q.shape:
            self.fail(f"result shape {q} differs from the input {x}")
        scale = self.get_attr("scale")
        if not (math.isfinite(scale) and scale > 0):
            self.fail(f"scale must be positive and finite, got {scale}")


class DQuantOp(CoreOp):
    """Per-vector dynamic quantization (``cl.dquant``): for every row of ``n`` values,
    ``scale = max|x| / (2^(bits−1) − 1)`` (1 for an all-zero row) and ``q = clamp(
    round_half_even(x / scale))`` in the narrow symmetric range, as the ``quant`` dialect's
    ``dynamic_quantize`` defines it. Results: int8 codes (input shape) and f32 scales (input
    shape with the last axis 1).

    Example:
        %q, %s = "imc.dquant"(%x) {bits = 8, ncores = 8, unit = "cluster"} : (tensor<4x8xf32>) -> (tensor<4x8xi8>, tensor<4x1xf32>)
    """

    name = "imc.dquant"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("q", tensor_type), ResultDef("scale", tensor_type))
    attr_defs = (
        AttrDef("bits", IntegerAttr, required=True),
        _UNIT,
        _NCORES,
        _LAYER,
        _buffers_attr(),
    )
    units = ("cluster", "nl")

    def verify_(self) -> None:
        self.check_unit()
        self.check_static()
        self.check_buffers()
        x, q, s = (v.type for v in (self.operands[0], *self.results))
        if str(x.element_type) != "f32" or str(q.element_type) != "i8" or q.shape != x.shape:
            self.fail(f"quantizes f32 rows to i8 codes of the same shape, got {x} -> {q}")
        if str(s.element_type) != "f32" or s.shape != (*x.shape[:-1], 1):
            self.fail(f"scales must be f32 {[*x.shape[:-1], 1]}, got {s}")
        if not 2 <= self.get_attr("bits") <= 8:
            self.fail("bits must be in 2..8")


class PoolOp(CoreOp):
    """Max or average pooling of NHWC images (``cl.pool``, one image at a time): each output
    reduces the in-bounds inputs of its window; padding never contributes; average divides the
    float32 sum by the in-bounds count and rounds half to even for integer types. Kernel,
    strides and pads (top, left, bottom, right) are explicit.

    Example:
        %p = "imc.pool"(%x) {kernel = [2, 2], kind = "max", ncores = 8, pads = [0, 0, 0, 0], strides = [2, 2], unit = "cluster"} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
    """

    name = "imc.pool"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("kind", StringAttr, required=True),
        AttrDef("kernel", ArrayAttr, required=True),
        AttrDef("strides", ArrayAttr, required=True),
        AttrDef("pads", ArrayAttr, required=True),
        _UNIT,
        _NCORES,
        _LAYER,
        _buffers_attr(),
    )

    def geometry(self) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
        return (
            tuple(self.get_attr("kernel")),
            tuple(self.get_attr("strides")),
            tuple(self.get_attr("pads")),
        )

    def verify_(self) -> None:
        self.check_unit()
        self.check_static()
        self.check_buffers()
        x, y = self.operands[0].type, self.results[0].type
        if self.get_attr("kind") not in POOL_KINDS:
            self.fail(f"kind must be one of {', '.join(POOL_KINDS)}")
        if x.rank != 4 or y.rank != 4 or x.element_type != y.element_type:
            self.fail(f"pools NHWC images of one element type, got {x} -> {y}")
        if str(x.element_type) not in ("f32", "i8", "ui8"):
            self.fail(f"pools f32, i8 or ui8 values, got {x.element_type}")
        (kh, kw), (sh, sw), (pt, pl, pb, pr) = self.geometry()
        n, h, w, c = x.shape
        oh = (h + pt + pb - kh) // sh + 1
        ow = (w + pl + pr - kw) // sw + 1
        if min(kh, kw, sh, sw) < 1 or min(pt, pl, pb, pr) < 0 or y.shape != (n, oh, ow, c):
            self.fail(f"result of {x} pooled {kh}x{kw}/{sh}x{sw} should be {[n, oh, ow, c]}")


class EltwiseOp(CoreOp):
    """Elementwise ``a op b`` (``cl.eltwise``): ``op`` is add, sub, mul, max or min; ``b`` has
    ``a``'s shape, or is one row (``a``'s last dimension) used for every row. f32 is IEEE
    float32, i32 saturates.

    Example:
        %c = "imc.eltwise"(%a, %b) {ncores = 8, op = "add", unit = "cluster"} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    """

    name = "imc.eltwise"
    operand_defs = (OperandDef("a", tensor_type), OperandDef("b", tensor_type))
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("op", StringAttr, required=True),
        _UNIT,
        _NCORES,
        _LAYER,
        _buffers_attr(),
    )

    @property
    def broadcast(self) -> bool:
        return self.operands[1].type.shape != self.operands[0].type.shape

    def verify_(self) -> None:
        self.check_unit()
        self.check_static()
        self.check_buffers()
        a, b, y = (v.type for v in (*self.operands, self.results[0]))
        if self.get_attr("op") not in ELTWISE_OPS:
            self.fail(f"op must be one of {', '.join(ELTWISE_OPS)}")
        if str(a.element_type) not in ("f32", "i32") or a != y:
            self.fail(f"needs f32 or i32 operands and a result of a's type, got {a} -> {y}")
        if b.element_type != a.element_type or (b.shape != a.shape and b.shape != a.shape[-1:]):
            self.fail(f"b must have a's shape or be one row of it, got {b} for {a}")


class KernelOp(CoreOp):
    """A call of a kernel of the cores' library (``cl.call``): ``kernel`` names it (``onnx.Conv``,
    ``nn.linear``, …) and it computes exactly what that op computes in the ``onnx`` or ``nn``
    dialect, with the op's attributes in ``params`` and the model's ``opset``. Operands are the
    op's operands in order (``none`` for an absent optional one), results likewise.

    Example:
        %y = "imc.kernel"(%x) {kernel = "onnx.Relu", ncores = 8, opset = 17, params = {}, unit = "cluster"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    """

    name = "imc.kernel"
    operand_defs = (OperandDef("args", tensor_or_none, variadic=True),)
    result_defs = (ResultDef("results", tensor_or_none, variadic=True),)
    attr_defs = (
        AttrDef("kernel", StringAttr, required=True),
        AttrDef("params", DictAttr, required=True),
        AttrDef("opset", IntegerAttr, required=True),
        AttrDef("layout", StringAttr, doc='"nhwc": operand 0 and result 0 are channels-last'),
        _UNIT,
        _NCORES,
        _LAYER,
        _buffers_attr(),
    )
    units = ("cluster", "nl")

    def verify_(self) -> None:
        self.check_unit()
        self.check_static()
        self.check_buffers()
        if "." not in self.get_attr("kernel"):
            self.fail("kernel must be a 'dialect.op' name")


class DwConvOp(CoreOp):
    """A depthwise convolution of NHWC int8/uint8 images with int8 weights ``[kh, kw, C]``
    (``dw.conv`` on the digital depthwise unit, ``cl.dwconv`` on the cores), one image at a
    time: exact int32 sums, padded positions reading ``pad_value`` (the input's zero point).

    Example:
        %y = "imc.dwconv"(%x) {dilations = [1, 1], kernel = [3, 3], pad_value = 0, pads = [1, 1, 1, 1], strides = [1, 1], unit = "dw", weights = dense<1> : tensor<3x3x4xi8>} : (tensor<1x4x4x4xui8>) -> tensor<1x4x4x4xi32>
    """

    name = "imc.dwconv"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("weights", DenseElementsAttr, required=True),
        AttrDef("kernel", ArrayAttr, required=True),
        AttrDef("strides", ArrayAttr, required=True),
        AttrDef("pads", ArrayAttr, required=True),
        AttrDef("dilations", ArrayAttr, required=True),
        AttrDef("pad_value", IntegerAttr, required=True),
        _UNIT,
        _NCORES,
        _LAYER,
        _buffers_attr(),
    )
    units = ("dw", "cluster")

    def geometry(self):
        return tuple(
            tuple(int(v) for v in self.get_attr(k))
            for k in ("kernel", "strides", "pads", "dilations")
        )

    def verify_(self) -> None:
        self.check_unit()
        self.check_static()
        self.check_buffers()
        x, y = self.operands[0].type, self.results[0].type
        if x.rank != 4 or str(x.element_type) not in ("i8", "ui8") or str(y.element_type) != "i32":
            self.fail(f"convolves NHWC i8/ui8 images to int32, got {x} -> {y}")
        (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = self.geometry()
        n, h, w, c = x.shape
        oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
        ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
        if y.shape != (n, oh, ow, c):
            self.fail(f"result should be {[n, oh, ow, c]}, got {y}")
        wt = self.attributes["weights"].type
        if str(wt.element_type) != "i8" or tuple(wt.shape) != (kh, kw, c):
            self.fail(f"weights must be i8 [{kh}, {kw}, {c}], got {wt}")


# --- memory ----------------------------------------------------------------------------------------


class EmptyOp(ImcOp):
    """A buffer whose contents the ops that follow define (an accumulator's first writes
    overwrite it). Reading an element nobody wrote is a compiler bug; the interpreter gives 0.

    Example:
        %a = "imc.empty"() {buffers = ?} : () -> tensor<4x2xi32>
    """

    name = "imc.empty"
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (_buffers_attr(),)
    traits = frozenset({Pure})

    def verify_(self) -> None:
        self.check_static()
        self.check_buffers()


class PadOp(ImcOp):
    """A halo of ``value`` around NHWC images (done by the DMA: fill, then a 2-D copy):
    ``pads`` are (top, left, bottom, right) rows and columns.

    Example:
        %p = "imc.pad"(%x) {pads = [1, 1, 1, 1], unit = "dma", value = 0} : (tensor<1x4x4x8xi8>) -> tensor<1x6x6x8xi8>
    """

    name = "imc.pad"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("pads", ArrayAttr, required=True),
        AttrDef("value", IntegerAttr, required=True),
        _UNIT,
        _LAYER,
        _buffers_attr(),
    )
    traits = frozenset({Pure})

    def verify_(self) -> None:
        self.check_static()
        self.check_buffers()
        x, y = self.operands[0].type, self.results[0].type
        pads = self.get_attr("pads")
        if len(pads) != 4 or min(pads) < 0 or x.rank != 4 or x.element_type != y.element_type:
            self.fail(f"pads NHWC images by 4 non-negative amounts, got {pads} on {x}")
        t, left, b, r = pads
        n, h, w, c = x.shape
        if y.shape != (n, h + t + b, w + left + r, c):
            self.fail(f"result should be {[n, h + t + b, w + left + r, c]}, got {y}")
        if self.get_attr("unit") != "dma":
            self.fail("runs on the dma")
        if str(x.element_type) not in ("i8", "ui8"):
            self.fail(f"pads i8/ui8 codes, got {x.element_type}")


class CopyOp(ImcOp):
    """A copy of a tensor into a new buffer (``dma``), e.g. a model input that is also an output.

    Example:
        %y = "imc.copy"(%x) {unit = "dma"} : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "imc.copy"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (_UNIT, _LAYER, _buffers_attr())
    traits = frozenset({Pure})

    def verify_(self) -> None:
        self.check_static()
        self.check_buffers()
        if self.operands[0].type != self.results[0].type:
            self.fail("copies a tensor into one of the same type")


def _box(op: ImcOp, whole: RankedTensorType, part: RankedTensorType) -> None:
    """Check a box ``part`` of ``whole`` at ``offsets`` that one 2-D DMA moves: only the first two
    dimensions may be cut."""
    offsets = op.get_attr("offsets")
    if (
        len(offsets) != whole.rank
        or part.rank != whole.rank
        or whole.element_type != part.element_type
    ):
        op.fail(f"needs one offset per dimension and one element type, got {offsets}, {part}")
    for d, (o, n, full) in enumerate(zip(offsets, part.shape, whole.shape)):
        if o < 0 or o + n > full:
            op.fail(f"box {list(offsets)} + {list(part.shape)} leaves {whole}")
        if d >= 2 and (o or n != full):
            op.fail(f"can cut only the first two dimensions of {whole} (one 2-D DMA)")


class ExtractOp(ImcOp):
    """A box of ``x`` copied into a buffer of its own (``dma``): the result's shape at
    ``offsets``; only the first two dimensions may be cut (one 2-D copy), e.g. a band of image
    rows with its halo, brought from L2 into L1 for one tile of a layer.

    Example:
        %b = "imc.extract"(%x) {offsets = [0, 2, 0, 0], unit = "dma"} : (tensor<1x8x8x4xi8>) -> tensor<1x4x8x4xi8>
    """

    name = "imc.extract"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (AttrDef("offsets", ArrayAttr, required=True), _UNIT, _LAYER, _buffers_attr())
    traits = frozenset({Pure})

    def verify_(self) -> None:
        self.check_static()
        self.check_buffers()
        _box(self, self.operands[0].type, self.results[0].type)


class InsertOp(ImcOp):
    """``part`` written into ``dest`` at ``offsets`` (``dma``): the result is ``dest`` with that
    box replaced and shares its buffer (a tile's output stored into the layer's output). Only
    the first two dimensions may be cut.

    Example:
        %y1 = "imc.insert"(%t, %y0) {offsets = [0, 4, 0, 0], unit = "dma"} : (tensor<1x4x8x4xi8>, tensor<1x8x8x4xi8>) -> tensor<1x8x8x4xi8>
    """

    name = "imc.insert"
    operand_defs = (OperandDef("part", tensor_type), OperandDef("dest", tensor_type))
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (AttrDef("offsets", ArrayAttr, required=True), _UNIT, _LAYER, _buffers_attr())

    def verify_(self) -> None:
        self.check_static()
        self.check_buffers()
        if self.operands[1].type != self.results[0].type:
            self.fail("result must have the type of dest")
        _box(self, self.operands[1].type, self.operands[0].type)


class ReshapeOp(ImcOp):
    """The same bytes seen with another shape (no instruction; the result aliases ``x``).

    Example:
        %y = "imc.reshape"(%x) : (tensor<4x2xf32>) -> tensor<1x2x2x2xf32>
    """

    name = "imc.reshape"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    traits = frozenset({Pure})

    def verify_(self) -> None:
        self.check_static()
        x, y = self.operands[0].type, self.results[0].type
        if x.element_type != y.element_type or _size(x) != _size(y):
            self.fail(f"cannot view {x} as {y}")


# --- synchronisation ------------------------------------------------------------------------------


class BarrierOp(ImcOp):
    """Nothing after it starts before everything before it has finished (timing only).

    Example:
        "imc.barrier"() : () -> ()
    """

    name = "imc.barrier"
    attr_defs = (AttrDef("reason", StringAttr),)


class SignalOp(ImcOp):
    """Set event ``ev`` once everything before it has finished.

    Example:
        "imc.signal"() {ev = 1} : () -> ()
    """

    name = "imc.signal"
    attr_defs = (AttrDef("ev", IntegerAttr, required=True),)


class WaitOp(ImcOp):
    """Block issue until event ``ev`` has been signalled, then clear it.

    Example:
        "imc.wait"() {ev = 1} : () -> ()
    """

    name = "imc.wait"
    attr_defs = (AttrDef("ev", IntegerAttr, required=True),)


#: Ops whose results have memory of their own (views and windows have none).
def has_buffers(op) -> bool:
    return isinstance(op, ImcOp) and any(a.name == "buffers" for a in op.attr_defs)


def buffers_attr(places: Sequence[tuple[str, int]]) -> ArrayAttr:
    """The ``buffers`` attribute for (memory, offset) per result."""
    return ArrayAttr(tuple(ArrayAttr((StringAttr(m), IntegerAttr(int(o)))) for m, o in places))


def unallocated() -> Attribute:
    return UnallocatedAttr()


__all__ = [
    "BarrierOp",
    "CopyOp",
    "DQuantOp",
    "DwConvOp",
    "EltwiseOp",
    "EmptyOp",
    "ExtractOp",
    "InsertOp",
    "ImcOp",
    "KernelOp",
    "MvmOp",
    "PadOp",
    "PoolOp",
    "QuantOp",
    "RequantOp",
    "ReshapeOp",
    "SignalOp",
    "WaitOp",
    "WeightsOp",
    "WriteOp",
    "buffers_attr",
    "has_buffers",
    "is_window",
    "unallocated",
    "window_shape",
    "window_type",
]
