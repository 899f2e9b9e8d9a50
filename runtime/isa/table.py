"""The imcc ISA v1 as one table: every instruction's opcode, fields, unit and documentation.

The encoder, decoder, assembler, disassembler and docs/ISA.md are generated from `TABLE`; nothing
else in `runtime/isa` knows about individual mnemonics. Semantics live in the simulator, which
implements the `semantics` paragraph of each row.

Field value conventions (what `Instr.fields` holds after decoding):

- ``uint`` / ``sint`` / ``addr`` / ``array``: ``int`` (``addr`` is a byte address, ``array`` a
  global array index; ``sint`` is two's complement in its bit width).
- ``mem``: memory space name, ``"L2"`` (code 0) or ``"L1"`` (code 1).
- ``dtype``: dtype name from `DTYPES`, restricted to the field's ``choices``.
- ``enum``: one of the field's ``choices`` (code = position in ``choices``).
- ``f32``: ``float`` holding an IEEE binary32 value (NaN is not encodable).
- ``bool``: ``bool``.
"""

from __future__ import annotations

# The schema names are re-exported: `table` is the one module other code imports.
from .schema import (  # noqa: F401
    DTYPE_BY_CODE,
    DTYPES,
    FIELD_KINDS,
    ISA_VERSION,
    MEMS,
    OPCODE_BITS,
    PACKED,
    WORD_BITS,
    DType,
    Field,
    InstrSpec,
)

# ---------------------------------------------------------------------------------------------
# Field builders: operands are always (memory space, byte address[, dtype]).

INT_DTYPES = ("i8", "u8", "i32", "f32")


def _u(name, bits, doc, **kw) -> Field:
    return Field(name, bits, "uint", doc, **kw)


def _s(name, bits, doc, **kw) -> Field:
    return Field(name, bits, "sint", doc, **kw)


def _f(name, doc, **kw) -> Field:
    return Field(name, 32, "f32", doc, **kw)


def _b(name, doc, default=False) -> Field:
    return Field(name, 1, "bool", doc, default=default)


def _operand(prefix: str, what: str, dtypes: tuple[str, ...] = (), default=None) -> tuple:
    out = (
        Field(f"{prefix}_mem", 2, "mem", f"memory space of {what}", choices=MEMS),
        Field(f"{prefix}_addr", 32, "addr", f"byte address of {what}"),
    )
    if dtypes:
        out += (Field(f"{prefix}_dtype", 3, "dtype", f"dtype of {what}", dtypes, default=default),)
    return out


def _optional_operand(prefix: str, what: str) -> tuple:
    """An operand used only when a flag says so: L2 address 0 unless given."""
    return (
        Field(f"{prefix}_mem", 2, "mem", f"memory space of {what}", choices=MEMS, default="L2"),
        Field(f"{prefix}_addr", 32, "addr", f"byte address of {what}", default=0),
    )


def _window(what: str) -> tuple:
    return (
        Field("array", 16, "array", f"global index of the array {what}"),
        _u("row0", 16, "first row of the window"),
        _u("col0", 16, "first column of the window"),
        _u("rows", 16, "window height (rows = input vector length)"),
        _u("cols", 16, "window width (cols = output vector length)"),
    )


NCORES = _u("ncores", 4, "cluster cores the kernel runs on", lo=1, default=8)

_HWC = (
    _u("h", 16, "input height", lo=1),
    _u("w", 16, "input width", lo=1),
    _u("c", 16, "channels", lo=1),
    _u("kh", 8, "kernel height", lo=1),
    _u("kw", 8, "kernel width", lo=1),
    _u("stride_h", 8, "vertical stride", lo=1, default=1),
    _u("stride_w", 8, "horizontal stride", lo=1, default=1),
    _u("pad_t", 8, "padding rows above", default=0),
    _u("pad_l", 8, "padding columns left", default=0),
    _u("pad_b", 8, "padding rows below", default=0),
    _u("pad_r", 8, "padding columns right", default=0),
)

_OUT_HW = (
    "Output size: oh = (h + pad_t + pad_b − dil_h·(kh−1) − 1) // stride_h + 1, likewise ow "
    "(dilation is 1 where the instruction has no dil fields)."
)

_DWCONV_FIELDS = (
    *_operand("src", "the HWC int8 or uint8 input", ("i8", "u8"), default="i8"),
    *_operand("wgt", "the int8 weights, laid out kh × kw × c"),
    *_operand("dst", "the HWC int32 output"),
    *_HWC,
    _u("dil_h", 8, "vertical dilation", lo=1, default=1),
    _u("dil_w", 8, "horizontal dilation", lo=1, default=1),
    _s("pad_value", 16, "value of padded input elements (the input zero point)", default=0),
)
_DWCONV_SEM = (
    "Depthwise convolution of src_dtype inputs: dst[y, x, ch] = Σ_{i<kh, j<kw} in[y·stride_h + "
    "i·dil_h − pad_t, "
    "x·stride_w + j·dil_w − pad_l, ch] · wgt[i, j, ch], products and sums in int32, input "
    "positions outside the h × w image reading pad_value. " + _OUT_HW
)


def _nonlinear(ncores: bool) -> dict[str, tuple[tuple, str, str]]:
    """Rows shared by the cluster (`cl.*`, with ncores) and the nonlinear unit (`nl.*`)."""
    nc = (NCORES,) if ncores else ()
    rowwise = (
        nc
        + _operand("src", "the f32 input")
        + _operand("dst", "the f32 output")
        + (_u("rows", 32, "number of rows"), _u("n", 32, "row length", lo=1))
    )
    count = nc + _operand("src", "the f32 input") + _operand("dst", "the f32 output")
    count += (_u("count", 32, "number of elements"),)
    ln = rowwise + _operand("gamma", "the f32 scale vector (n)") + _operand("beta", "the f32 shift")
    ln += (_f("eps", "variance epsilon", default=1e-5),)
    return {
        "softmax": (
            rowwise,
            "softmax along the last axis of a rows × n f32 matrix",
            "For each row r: m = max_j x[r, j]; e_j = exp(x[r, j] − m); dst[r, j] = e_j / Σ_j e_j, "
            "all in float32 with the sum taken left to right.",
        ),
        "layernorm": (
            ln,
            "layer normalization along the last axis of a rows × n f32 matrix",
            "For each row r: μ = mean_j x[r, j]; σ² = mean_j (x[r, j] − μ)²; dst[r, j] = "
            "(x[r, j] − μ) / sqrt(σ² + eps) · gamma[j] + beta[j], all in float32.",
        ),
        "gelu": (
            count,
            "GELU (erf form) on count f32 elements",
            "dst[i] = 0.5 · x[i] · (1 + erf(x[i] / √2)) in float32.",
        ),
        "sigmoid": (
            count,
            "logistic sigmoid on count f32 elements",
            "dst[i] = 1 / (1 + exp(−x[i])).",
        ),
        "tanh": (count, "hyperbolic tangent on count f32 elements", "dst[i] = tanh(x[i])."),
        "exp": (count, "exponential on count f32 elements", "dst[i] = exp(x[i])."),
    }


def _periphery(ncores: bool) -> dict[str, tuple[str, tuple, str, str]]:
    """Rows shared by the cluster (`cl.*`, with ncores) and the nonlinear unit (`nl.*`): the
    crossbars' periphery jobs (requantization, static and per-row quantization, elementwise).
    Name -> (cluster opcode, fields, summary, semantics)."""
    nc = (NCORES,) if ncores else ()
    return {
        "requant": (
            0x36,
            (
                *nc,
                *_operand("src", "the input", ("i8", "u8", "i32"), default="i32"),
                *_operand("dst", "the output", ("i8", "u8", "i32", "f32")),
                _u("rows", 32, "number of rows"),
                _u("channels", 32, "output row length = channels", lo=1),
                *_operand("scale", "the f32 scale vector (planes × channels)"),
                _b("has_bias", "add the f32 per-channel bias vector"),
                *_operand("bias", "the f32 per-channel bias vector (ignored without has_bias)"),
                _s("zp", 16, "output zero point", default=0),
                _f("lo", "lower clamp bound", default=float("-inf")),
                _f("hi", "upper clamp bound", default=float("inf")),
                _u("planes", 8, "column blocks of the input summed per channel", lo=1, default=1),
                _b("has_offset", "subtract the i32 offset vector first"),
                *_optional_operand("offset", "the i32 offset vector (planes × channels)"),
                _b("has_row_scale", "multiply by one f32 scale per row"),
                *_optional_operand("row_scale", "the f32 per-row scale vector"),
            ),
            "per-channel rescale of integers (crossbar accumulators) to int8/uint8/int32 or f32, "
            "with clamp for ReLU/ReLU6",
            "The input x has rows × (planes · channels) elements, plane-major. For row r and channel "
            "c: t_j = float32(saturate_int32(x[r, j·channels + c] − offset[j·channels + c])) (no "
            "subtraction without has_offset) and v = Σ_j t_j · scale[j·channels + c], the products "
            "and the sum over j = 0, 1, ... in float32, in that order; then v = v · row_scale[r] "
            "(with has_row_scale) and v = v + bias[c] (with has_bias), in float32. Integer dst: y = "
            "clamp(round_half_even(v) + zp, lo, hi) saturated to dst_dtype. f32 dst: y = clamp(v, lo, "
            "hi) (zp must be 0). ReLU is lo = zp, ReLU6 is hi = zp + round(6 / output scale).",
        ),
        "quant": (
            0x37,
            (
                *nc,
                *_operand("src", "the f32 input"),
                *_operand("dst", "the output", ("i8", "u8")),
                _u("count", 32, "number of elements"),
                _f("scale", "quantization step"),
                _s("zp", 16, "zero point", default=0),
                _s("lo", 16, "smallest code", default=-(1 << 15)),
                _s("hi", 16, "largest code", default=(1 << 15) - 1),
            ),
            "quantize f32 to int8/uint8 codes (ONNX QuantizeLinear, or a DAC's narrower range)",
            "dst[i] = saturate(clamp(round_half_even(x[i] / scale) + zp, lo, hi)) to dst_dtype, in "
            "float32.",
        ),
        "dquant": (
            0x3F,
            (
                *nc,
                *_operand("src", "the f32 rows × n input"),
                *_operand("dst", "the int8 codes"),
                *_operand("scale", "the f32 per-row scales"),
                _u("rows", 32, "number of rows"),
                _u("n", 32, "row length", lo=1),
                _u("bits", 4, "code width", lo=2, hi=8, default=8),
            ),
            "dynamic per-row quantization to int8 codes (a crossbar's per-vector DAC range)",
            "For each row r: scale[r] = max_j |x[r, j]| / (2^(bits−1) − 1) in float32 (1 for an "
            "all-zero row); dst[r, j] = clamp(round_half_even(x[r, j] / scale[r]), −(2^(bits−1) − 1), "
            "2^(bits−1) − 1) as int8.",
        ),
        "eltwise": (
            0x38,
            (
                *nc,
                Field("op", 3, "enum", "operation", ("add", "sub", "mul", "max", "min")),
                Field("dtype", 3, "dtype", "element type of all operands", ("i32", "f32")),
                *_operand("src", "the first operand"),
                *_operand("src2", "the second operand"),
                *_operand("dst", "the result"),
                _u("rows", 32, "number of rows"),
                _u("n", 32, "row length"),
                _b("bcast", "src2 is one row of n elements used for every row"),
            ),
            "elementwise binary operation on rows × n elements (optionally row-broadcast)",
            "dst[r, j] = op(src[r, j], src2[j] if bcast else src2[r, j]). i32 results saturate to "
            "int32; f32 is IEEE float32.",
        ),
    }


def _build_table() -> tuple[InstrSpec, ...]:
    rows: list[InstrSpec] = []

    def add(mnemonic, opcode, cls, unit, fields, summary, semantics):
        """Append one row."""
        rows.append(InstrSpec(mnemonic, opcode, cls, unit, tuple(fields), summary, semantics))

    # --- control -----------------------------------------------------------------------------
    add(
        "halt",
        0x00,
        "control",
        "control",
        (),
        "stop the program",
        "Ends execution once every unit has drained. Running past the last instruction halts too.",
    )
    add(
        "barrier",
        0x01,
        "control",
        "control",
        (),
        "wait until every unit has drained",
        "No instruction after the barrier starts before every instruction before it has finished. "
        "Never needed for correctness (the machine tracks data dependencies); it shapes timing.",
    )
    add(
        "wait",
        0x02,
        "control",
        "control",
        (_u("ev", 8, "event number"),),
        "wait for an event",
        "Blocks issue until event ev has been signalled, then clears it.",
    )
    add(
        "signal",
        0x03,
        "control",
        "control",
        (_u("ev", 8, "event number"),),
        "signal an event",
        "Sets event ev once every instruction before it has finished.",
    )

    # --- dma ---------------------------------------------------------------------------------
    add(
        "dma",
        0x10,
        "dma",
        "dma",
        (
            *_operand("src", "the first source row"),
            *_operand("dst", "the first destination row"),
            _u("rows", 16, "number of rows"),
            _u("row_bytes", 24, "bytes per row"),
            _u("src_stride", 32, "bytes between source rows"),
            _u("dst_stride", 32, "bytes between destination rows"),
        ),
        "2-D memory copy",
        "For r < rows: copy row_bytes bytes from src_addr + r·src_stride to dst_addr + "
        "r·dst_stride. Rows are copied in order; overlapping source and destination is an error.",
    )
    add(
        "fill",
        0x11,
        "dma",
        "dma",
        (
            *_operand("dst", "the region"),
            _u("bytes", 32, "number of bytes"),
            _u("value", 8, "byte value", default=0),
        ),
        "fill memory with a byte value",
        "Sets bytes bytes from dst_addr on to value.",
    )

    # --- array programming and MVM jobs --------------------------------------------------------
    add(
        "xb.prog",
        0x20,
        "array",
        "array",
        (
            *_window("to program"),
            Field("fmt", 3, "dtype", "packed weight format", ("t2", "i4")),
            *_operand("src", "the packed weights"),
        ),
        "program an array window with packed weights",
        "Reads rows × cols weights, row-major, packed in fmt (t2: 2 bits each, 00 = 0, 01 = +1, "
        "11 = −1, weight k in bits 2k%8 of byte k//4; i4: two's complement nibbles, low nibble "
        "first, −8 invalid) starting at src_addr, and stores weight (r, c) in cell (row0 + r, "
        "col0 + c). Cells hold the exact integer. Expensive on analog arrays: programs keep "
        "weights resident.",
    )
    add(
        "xb.write",
        0x21,
        "array",
        "array",
        (
            *_window("to write (a dynamic array)"),
            *_operand("src", "the int8 matrix"),
            _u("src_stride", 32, "bytes between source rows"),
        ),
        "write an int8 matrix into a dynamic array window",
        "Cell (row0 + r, col0 + c) = src[src_addr + r·src_stride + c] as int8, for r < rows, "
        "c < cols. Only arrays of kind dynamic accept writes (attention K/V at run time).",
    )
    add(
        "xb.mvm",
        0x22,
        "array",
        "array",
        (
            *_window("to evaluate"),
            *_operand("src", "the input vectors", ("i8", "u8"), default="i8"),
            _u("seg_count", 16, "input segments per vector", lo=1, default=1),
            _u("seg_len", 16, "bytes per input segment", lo=1),
            _u("seg_stride", 32, "bytes between segments", default=0),
            _u("inner_stride", 32, "bytes between input vectors of consecutive inner jobs"),
            _u(
                "outer_stride",
                32,
                "bytes between input vectors of consecutive outer jobs",
                default=0,
            ),
            _u("n_inner", 16, "inner job count", lo=1),
            _u("n_outer", 16, "outer job count", lo=1, default=1),
            _u("n_batch", 16, "batch count (the outermost job loop)", lo=1, default=1),
            _u(
                "batch_stride",
                32,
                "bytes between the first vectors of consecutive batches",
                default=0,
            ),
            *_operand("dst", "the int32 outputs"),
            _u("dst_stride", 32, "bytes between consecutive job outputs"),
            _b("acc", "add into dst instead of overwriting it"),
            _u("adc_shift", 5, "ADC step is 2^adc_shift", default=0),
        ),
        "matrix-vector products of a whole layer on one array window (im2col gather)",
        "For b < n_batch, i < n_outer, j < n_inner (job number (b·n_outer + i)·n_inner + j): the "
        "input vector x (rows = seg_count·seg_len elements, required) is the concatenation over "
        "k < seg_count of seg_len elements of src_dtype at src_addr + b·batch_stride + "
        "i·outer_stride + j·inner_stride + k·seg_stride. y[c] = Σ_r x[r] · "
        "cell(row0 + r, col0 + c) for c < cols, exact in integers. The ADC then gives "
        "q = clamp(round_half_even(y / 2^adc_shift), −2^(b−1), 2^(b−1)−1) · 2^adc_shift with b the "
        "target's ADC bits (exact y on digital arrays and in ideal mode). The cols int32 values go "
        "to dst_addr + job·dst_stride, added to what is there when acc is set "
        "(int32, saturating).",
    )

    # --- cluster kernels -----------------------------------------------------------------------
    for k, (name, (fields, summary, sem)) in enumerate(_nonlinear(ncores=True).items()):
        add(f"cl.{name}", 0x30 + k, "cluster", "cluster", fields, summary, sem)
    for name, (opcode, fields, summary, sem) in _periphery(ncores=True).items():
        add(f"cl.{name}", opcode, "cluster", "cluster", fields, summary, sem)
    add(
        "cl.call",
        0x41,
        "cluster",
        "cluster",
        (NCORES, _u("call", 32, "index of the call in the program's call table")),
        "run a kernel of the cores' library (any ONNX or nn op) on tensors in memory",
        "Runs call table entry `call`: the named library kernel reads its input tensors (memory, "
        "address, element type, shape, dense row-major) and writes its outputs, computing exactly "
        "what the op of that name computes (ONNX semantics for onnx.*, the nn dialect's for nn.*) "
        "with the entry's attributes and opset; layout nhwc runs a channels-first op on "
        "channels-last data (input 0 and output 0 transposed around the kernel). An output whose "
        "element type or shape differs from what the kernel produces is a run-time error.",
    )
    add(
        "cl.pool",
        0x39,
        "cluster",
        "cluster",
        (
            NCORES,
            Field("op", 2, "enum", "pooling kind", ("max", "avg")),
            Field("dtype", 3, "dtype", "element type", ("i8", "u8", "f32")),
            *_operand("src", "the HWC input"),
            *_operand("dst", "the HWC output"),
            *_HWC,
        ),
        "max or average pooling over an HWC tensor",
        "Each output (y, x, ch) reduces the in-bounds inputs of its kh × kw window; padding never "
        "contributes. avg divides the float32 sum by the in-bounds count (ONNX count_include_pad=0) "
        "and rounds half to even for integer dtypes. " + _OUT_HW,
    )
    add(
        "cl.dwconv",
        0x3A,
        "cluster",
        "cluster",
        (NCORES, *_DWCONV_FIELDS),
        "depthwise convolution of an HWC int8/uint8 tensor on the cores",
        _DWCONV_SEM,
    )
    add(
        "cl.matmul",
        0x3B,
        "cluster",
        "cluster",
        (
            NCORES,
            Field("dtype", 3, "dtype", "input dtype: i8 (int32 out) or f32", ("i8", "f32")),
            *_operand("a", "A (m × k)"),
            *_operand("b", "B (k × n, or n × k with trans_b)"),
            *_operand("dst", "the m × n result (int32 for i8, else f32)"),
            _u("m", 32, "rows of A", lo=1),
            _u("k", 32, "inner dimension", lo=1),
            _u("n", 32, "columns of the result", lo=1),
            _u("a_stride", 32, "bytes between rows of A"),
            _u("b_stride", 32, "bytes between rows of B"),
            _u("dst_stride", 32, "bytes between rows of dst"),
            _b("trans_b", "B is stored n × k"),
        ),
        "small matrix product on the cores (attention Q·Kᵀ and softmax·V)",
        "dst[i, j] = Σ_{t<k} a[i, t] · b[t, j] (b[j, t] with trans_b), rows addressed with the "
        "given byte strides. i8: int32 products and sums (saturating); f32: float32, t ascending.",
    )
    add(
        "cl.transpose",
        0x3C,
        "cluster",
        "cluster",
        (
            NCORES,
            Field("dtype", 3, "dtype", "element type", INT_DTYPES),
            *_operand("src", "the rows × cols input"),
            *_operand("dst", "the cols × rows output"),
            _u("rows", 32, "input rows"),
            _u("cols", 32, "input columns"),
        ),
        "2-D transpose",
        "dst[c, r] = src[r, c] for dense row-major matrices.",
    )
    add(
        "cl.copy",
        0x3D,
        "cluster",
        "cluster",
        (
            NCORES,
            *_operand("src", "the source"),
            *_operand("dst", "the destination"),
            _u("bytes", 32, "number of bytes"),
        ),
        "copy bytes on the cores",
        "Copies bytes bytes from src_addr to dst_addr (no overlap).",
    )
    add(
        "cl.gather",
        0x3E,
        "cluster",
        "cluster",
        (
            NCORES,
            *_operand("table", "the row table"),
            *_operand("idx", "the int32 row indices"),
            *_operand("dst", "the gathered rows"),
            _u("count", 32, "number of indices"),
            _u("n_rows", 32, "rows in the table"),
            _u("row_bytes", 32, "bytes per row"),
        ),
        "gather table rows by int32 index (embedding lookup)",
        "For i < count: copy row idx[i] (row_bytes bytes at table_addr + idx[i]·row_bytes) to "
        "dst_addr + i·row_bytes. An index outside 0..n_rows−1 is a run-time error.",
    )

    # --- digital depthwise unit ------------------------------------------------------------------
    add(
        "dw.conv",
        0x40,
        "dw",
        "dw",
        _DWCONV_FIELDS,
        "depthwise convolution on the digital depthwise unit",
        _DWCONV_SEM,
    )

    # --- nonlinear unit (the same kernels as cl.*, on a dedicated unit) -------------------------
    for k, (name, (fields, summary, sem)) in enumerate(_nonlinear(ncores=False).items()):
        add(
            f"nl.{name}",
            0x50 + k,
            "nonlinear",
            "nl",
            fields,
            summary + " on the nonlinear unit",
            sem,
        )
    for k, (name, (_, fields, summary, sem)) in enumerate(_periphery(ncores=False).items()):
        add(
            f"nl.{name}",
            0x56 + k,
            "nonlinear",
            "nl",
            fields,
            summary + " on the nonlinear unit",
            sem,
        )
    return tuple(rows)


TABLE: tuple[InstrSpec, ...] = _build_table()
BY_MNEMONIC: dict[str, InstrSpec] = {s.mnemonic: s for s in TABLE}
BY_OPCODE: dict[int, InstrSpec] = {s.opcode: s for s in TABLE}
CLASSES = ("control", "dma", "array", "cluster", "dw", "nonlinear")


def _check_table() -> None:
    """Catch table typos at import time rather than as mis-encoded programs."""
    if len(BY_MNEMONIC) != len(TABLE) or len(BY_OPCODE) != len(TABLE):
        raise ValueError("duplicate mnemonic or opcode in the ISA table")
    for spec in TABLE:
        if not 0 <= spec.opcode < 1 << OPCODE_BITS or spec.cls not in CLASSES:
            raise ValueError(f"{spec.mnemonic}: bad opcode or class")
        names = [f.name for f in spec.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{spec.mnemonic}: duplicate field name")


_check_table()
