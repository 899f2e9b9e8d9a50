"""The call table of a program: what each ``cl.call`` instruction asks the cores' library to run.

An entry names a library kernel (``onnx.Conv``, ``nn.linear``), the layout it runs in (``""`` or
``"nhwc"``), the ONNX opset its semantics follow, its operands (each a dense tensor in memory, or
absent) and its attributes. Attribute values are ints, floats, strings, lists of one of those, or
tensors; they decode to exactly the Python values the kernels take.

Record layout (little-endian; a string is a u16 byte length and UTF-8 bytes):

    str kernel, str layout, u16 opset, u8 inputs, u8 outputs,
    per operand: u8 present; if present: u8 mem, u8 dtype, u8 ndim, u32 dims[ndim], u32 addr
    u16 attribute count, per attribute (names strictly increasing): str name, u8 tag, value
      tag 0 int: i64 | 1 float: f64 | 2 str | 3 ints: u32 n, i64[n] | 4 floats: u32 n, f64[n]
      5 strs: u32 n, str[n] | 6 tensor: u8 dtype, u8 ndim, u32 dims[ndim], u32 bytes, data
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field

import numpy as np

from .table import DTYPE_BY_CODE, DTYPES, MEMS, PACKED

LAYOUTS = ("", "nhwc")
MAX_OPERANDS = 255
MAX_NDIM = 8
KERNEL_RE = re.compile(r"[a-z][a-z0-9_]*\.[A-Za-z0-9_]{1,64}")
PARAM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Element types a call operand may have (packed weight formats are not data).
DATA_DTYPES = tuple(d for d in DTYPES if d not in PACKED)
_TAGS = ("int", "float", "str", "ints", "floats", "strs", "tensor")


@dataclass(frozen=True)
class Operand:
    """A dense row-major tensor at ``mem:addr``."""

    mem: str
    addr: int
    dtype: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * DTYPES[self.dtype].bits // 8


@dataclass
class Call:
    """One call table entry."""

    kernel: str
    inputs: list[Operand | None]
    outputs: list[Operand | None]
    params: dict = field(default_factory=dict)
    opset: int = 0
    layout: str = ""


class CallError(ValueError):
    """A call entry that cannot be encoded or read."""


# --- validation ---------------------------------------------------------------------------------


def check_call(index: int, c: Call) -> None:
    """Raise CallError naming the entry when ``c`` breaks a rule of the format."""
    where = f"call {index}"
    if not isinstance(c.kernel, str) or not KERNEL_RE.fullmatch(c.kernel):
        raise CallError(f"{where}: kernel name {c.kernel!r} must look like 'onnx.Conv'")
    if c.layout not in LAYOUTS:
        raise CallError(f"{where}: layout {c.layout!r} is not one of {LAYOUTS}")
    if not isinstance(c.opset, int) or not 0 <= c.opset < 1 << 16:
        raise CallError(f"{where}: opset {c.opset!r} out of range")
    if len(c.inputs) > MAX_OPERANDS or len(c.outputs) > MAX_OPERANDS:
        raise CallError(f"{where}: too many operands")
    for kind, ops in (("input", c.inputs), ("output", c.outputs)):
        for i, op in enumerate(ops):
            if op is not None:
                _check_operand(f"{where} {kind} {i}", op)
    for name, value in c.params.items():
        if not isinstance(name, str) or not PARAM_RE.fullmatch(name):
            raise CallError(f"{where}: attribute name {name!r} is not an identifier")
        _tag(value, f"{where} attribute {name}")


def _check_operand(where: str, op: Operand) -> None:
    if op.mem not in MEMS or op.dtype not in DATA_DTYPES:
        raise CallError(f"{where}: memory {op.mem!r} / element type {op.dtype!r} not allowed")
    if len(op.shape) > MAX_NDIM or any(not 0 <= d < 1 << 32 for d in op.shape):
        raise CallError(f"{where}: shape {list(op.shape)} needs <= {MAX_NDIM} dims < 2^32")
    if not isinstance(op.addr, int) or op.addr < 0 or op.addr + op.nbytes > 1 << 32:
        raise CallError(f"{where}: bytes {op.addr}..{op.addr + op.nbytes} exceed 32-bit addresses")


def _tag(value, where: str) -> int:
    if isinstance(value, np.ndarray):
        if str(value.dtype) not in {DTYPES[d].numpy for d in DATA_DTYPES}:
            raise CallError(f"{where}: tensors of {value.dtype} cannot be encoded")
        if value.ndim > MAX_NDIM:
            raise CallError(f"{where}: tensor of rank {value.ndim}")
        return 6
    if isinstance(value, bool | int | np.integer):
        if not -(1 << 63) <= int(value) < 1 << 63:
            raise CallError(f"{where}: integer {value} does not fit 64 bits")
        return 0
    if isinstance(value, float | np.floating):
        return 1
    if isinstance(value, str):
        return 2
    if isinstance(value, list | tuple):
        kinds = {_tag(v, where) for v in value}
        if not kinds or kinds == {0}:
            return 3
        if kinds <= {0, 1}:
            return 4
        if kinds == {2}:
            return 5
        raise CallError(f"{where}: lists must hold ints, floats or strings only")
    raise CallError(f"{where}: values of type {type(value).__name__} cannot be encoded")


# --- writing ------------------------------------------------------------------------------------


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > 0xFFFF:
        raise CallError("string longer than 65535 bytes")
    return struct.pack("<H", len(b)) + b


def _operand_bytes(op: Operand | None) -> bytes:
    if op is None:
        return b"\0"
    head = struct.pack("<BBBB", 1, MEMS.index(op.mem), DTYPES[op.dtype].code, len(op.shape))
    return head + struct.pack(f"<{len(op.shape)}I", *op.shape) + struct.pack("<I", op.addr)


def _value_bytes(value, tag: int) -> bytes:
    if tag == 0:
        return struct.pack("<q", int(value))
    if tag == 1:
        return struct.pack("<d", float(value))
    if tag == 2:
        return _str(value)
    if tag == 3:
        return struct.pack(f"<I{len(value)}q", len(value), *(int(v) for v in value))
    if tag == 4:
        return struct.pack(f"<I{len(value)}d", len(value), *(float(v) for v in value))
    if tag == 5:
        return struct.pack("<I", len(value)) + b"".join(_str(v) for v in value)
    code = next(d.code for d in DTYPES.values() if d.numpy == str(value.dtype))
    raw = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()
    head = struct.pack("<BB", code, value.ndim) + struct.pack(f"<{value.ndim}I", *value.shape)
    return head + struct.pack("<I", len(raw)) + raw


def encode_call(c: Call) -> bytes:
    """One call record (the entry must pass `check_call`)."""
    out = [
        _str(c.kernel),
        _str(c.layout),
        struct.pack("<HBB", c.opset, len(c.inputs), len(c.outputs)),
    ]
    out += [_operand_bytes(op) for op in (*c.inputs, *c.outputs)]
    out.append(struct.pack("<H", len(c.params)))
    for name in sorted(c.params):
        value = c.params[name]
        tag = _tag(value, name)
        out.append(_str(name) + struct.pack("<B", tag) + _value_bytes(value, tag))
    return b"".join(out)


# --- reading ------------------------------------------------------------------------------------


def decode_call(r, index: int) -> Call:
    """Read one record from ``r`` (a bounded reader with ``take``/``unpack``/``str``)."""
    where = f"call {index}"
    kernel = r.str(f"{where} kernel")
    layout = r.str(f"{where} layout")
    opset, n_in, n_out = r.unpack("<HBB", f"{where} header")
    operands = [_read_operand(r, f"{where} operand {i}") for i in range(n_in + n_out)]
    (count,) = r.unpack("<H", f"{where} attribute count")
    params, last = {}, None
    for _ in range(count):
        name = r.str(f"{where} attribute name")
        if last is not None and name <= last:
            raise CallError(f"{where}: attribute {name!r} out of order")
        (tag,) = r.unpack("<B", f"{where} attribute {name} tag")
        params[name] = _read_value(r, tag, f"{where} attribute {name}")
        last = name
    c = Call(kernel, operands[:n_in], operands[n_in:], params, opset, layout)
    check_call(index, c)
    return c


def _read_operand(r, where: str) -> Operand | None:
    (present,) = r.unpack("<B", where)
    if present == 0:
        return None
    if present != 1:
        raise CallError(f"{where}: presence byte {present}")
    mem, code, ndim = r.unpack("<BBB", where)
    if mem >= len(MEMS) or code not in DTYPE_BY_CODE or ndim > MAX_NDIM:
        raise CallError(f"{where}: bad memory/dtype/rank {mem}/{code}/{ndim}")
    shape = r.unpack(f"<{ndim}I", f"{where} shape")
    (addr,) = r.unpack("<I", f"{where} address")
    return Operand(MEMS[mem], addr, DTYPE_BY_CODE[code].name, tuple(shape))


def _read_value(r, tag: int, where: str):
    if tag >= len(_TAGS):
        raise CallError(f"{where}: unknown value tag {tag}")
    if tag == 0:
        return r.unpack("<q", where)[0]
    if tag == 1:
        return r.unpack("<d", where)[0]
    if tag == 2:
        return r.str(where)
    if tag in (3, 4, 5):
        (n,) = r.unpack("<I", f"{where} length")
        if tag == 5:
            return [r.str(f"{where} item") for _ in range(n)]
        size = 8 * n
        if size > len(r.data) - r.pos:
            raise CallError(f"{where}: {n} values cannot fit the section")
        return list(struct.unpack(f"<{n}{'q' if tag == 3 else 'd'}", r.take(size, where)))
    code, ndim = r.unpack("<BB", where)
    if code not in DTYPE_BY_CODE or DTYPE_BY_CODE[code].name not in DATA_DTYPES or ndim > MAX_NDIM:
        raise CallError(f"{where}: bad tensor dtype {code} or rank {ndim}")
    shape = r.unpack(f"<{ndim}I", f"{where} shape")
    (nbytes,) = r.unpack("<I", f"{where} size")
    dtype = np.dtype(DTYPE_BY_CODE[code].numpy)
    if nbytes != math.prod(shape) * dtype.itemsize:
        raise CallError(f"{where}: {nbytes} bytes for a tensor of shape {list(shape)}")
    raw = r.take(nbytes, where)
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)


# --- text form (the assembler's .call directive) --------------------------------------------------


def call_to_json(c: Call) -> dict:
    """The entry as JSON data; `call_from_json` reads it back to an equal entry."""

    def operand(op):
        return None if op is None else [op.mem, op.addr, op.dtype, list(op.shape)]

    def value(v):
        if isinstance(v, np.ndarray):
            name = next(d.name for d in DTYPES.values() if d.numpy == str(v.dtype))
            data = v.reshape(-1).tolist()
            return {"tensor": name, "shape": list(v.shape), "data": data}
        return v

    return {
        "kernel": c.kernel,
        "opset": c.opset,
        "layout": c.layout,
        "inputs": [operand(op) for op in c.inputs],
        "outputs": [operand(op) for op in c.outputs],
        "params": {k: value(c.params[k]) for k in sorted(c.params)},
    }


def call_from_json(d) -> Call:
    """An entry from `call_to_json` data; CallError when the data has the wrong shape."""

    def operand(v):
        if v is None:
            return None
        if not isinstance(v, list) or len(v) != 4 or not isinstance(v[3], list):
            raise CallError(f"an operand is [memory, address, dtype, [dims]], got {v!r}")
        return Operand(v[0], v[1], v[2], tuple(v[3]))

    def value(v):
        if isinstance(v, dict):
            if set(v) != {"tensor", "shape", "data"} or v["tensor"] not in DATA_DTYPES:
                raise CallError(f"a tensor attribute is {{tensor, shape, data}}, got {v!r}")
            dtype = np.dtype(DTYPES[v["tensor"]].numpy)
            try:
                return np.array(v["data"], dtype=dtype).reshape(v["shape"])
            except (ValueError, TypeError, OverflowError) as err:
                raise CallError(f"bad tensor attribute: {err}") from None
        return v

    if not isinstance(d, dict) or not {"kernel", "inputs", "outputs"} <= set(d):
        raise CallError("a call needs kernel, inputs and outputs")
    try:
        return Call(
            d["kernel"],
            [operand(v) for v in d["inputs"]],
            [operand(v) for v in d["outputs"]],
            {k: value(v) for k, v in dict(d.get("params", {})).items()},
            d.get("opset", 0),
            d.get("layout", ""),
        )
    except (TypeError, ValueError) as err:
        raise CallError(f"malformed call: {err}") from None
