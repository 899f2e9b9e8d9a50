"""The prog.bin container: header, section table, six sections and a SHA-256 trailer.

Layout (all integers little-endian):

    0   magic "IMCC"
    4   u16 format major, u16 format minor
    8   u32 flags (0)
    12  u32 section count (6)
    16  u32 file size in bytes, including the trailer
    20  u32 reserved (0)
    24  16 B target fingerprint (SHA-256 prefix of the canonical target description)
    40  32 B target name, ASCII, zero padded (at most 31 characters)
    72  section table: per section u32 kind, u32 offset, u32 size, u32 item count
        sections in kind order code, const, tensors, debug, meta, calls; each starts at the first 4-byte
        aligned offset after the previous one, gaps are zero
    ..  32 B SHA-256 of every byte before it

Sections are sequences of records; a string is a u16 byte length and UTF-8 bytes:

- code: the encoded instructions (item count = number of instructions)
- const: str name, u8 dtype code, u32 element count, u32 byte size, packed data
- tensors: str name, u8 role, u8 dtype, u8 mem, u8 ndim, u32 dims[ndim], u32 addr, f32 scale,
  i32 zp, i32 scales-blob index (−1: none), u8 axis
- debug: u32 instruction index (strictly increasing), str IR op, str ONNX node; from format 2.1
  also i32 attention head (−1: the instruction is not per head)
- meta: str key, str value (keys strictly increasing)
- calls: the call table of ``cl.call`` (records as `calls` describes them)

Versions: a reader reads its major version up to its minor. 2.1 adds the debug records' head; a
program is written as 2.0 unless a debug entry names a head, so programs without per-head entries
keep their 2.0 bytes (and older readers), and a 2.1 file must name at least one head.

The encoding is canonical: a buffer that reads back without error re-serializes to the same bytes.
Reading validates everything before returning and raises only `BinaryFormatError`.
"""

from __future__ import annotations

import hashlib
import math
import struct

from .calls import CallError, decode_call, encode_call
from .encoding import decode_all
from .entries import MAX_NDIM, ROLES, Const, DebugInfo, Tensor
from .errors import BinaryFormatError
from .table import DTYPE_BY_CODE, DTYPES, MEMS

MAGIC = b"IMCC"
FORMAT_VERSION = (2, 1)
#: The first minor version whose debug records hold an attention head.
HEAD_MINOR = 1
HEADER = struct.Struct("<4sHHIIII16s32s")
SECTION = struct.Struct("<IIII")
SECTION_KINDS = ("code", "const", "tensors", "debug", "meta", "calls")
CHECKSUM_BYTES = 32
TABLE_END = HEADER.size + SECTION.size * len(SECTION_KINDS)
# Smallest possible record per section, to bound item counts before looping over them.
MIN_RECORD = {"code": 4, "const": 11, "tensors": 23, "debug": 8, "meta": 4, "calls": 10}


def _align4(n: int) -> int:
    return (n + 3) & ~3


# ---------------------------------------------------------------------------------------------
# Writing


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<H", len(b)) + b


def _const_parts(p) -> list[bytes]:
    """The const section as parts, each record's head and then its data (not copied)."""
    parts = []
    for c in p.consts:
        parts.append(_str(c.name) + struct.pack("<BII", DTYPES[c.dtype].code, c.count, len(c.raw)))
        parts.append(c.raw)
    return parts


def _tensor_section(p) -> bytes:
    blob_index = {c.name: i for i, c in enumerate(p.consts)}
    out = []
    for t in p.tensors:
        head = struct.pack(
            "<BBBB", ROLES.index(t.role), DTYPES[t.dtype].code, MEMS.index(t.mem), len(t.shape)
        )
        dims = struct.pack(f"<{len(t.shape)}I", *t.shape)
        scales = -1 if t.scales is None else blob_index[t.scales]
        tail = struct.pack("<IfiiB", t.addr, t.scale, t.zp, scales, t.axis)
        out.append(_str(t.name) + head + dims + tail)
    return b"".join(out)


def _debug_section(p, heads: bool) -> bytes:
    """The debug records, with their head field when ``heads`` (format 2.1)."""
    out = []
    for i, d in sorted(p.debug.items()):
        out.append(struct.pack("<I", i) + _str(d.ir_op) + _str(d.onnx_node))
        if heads:
            out.append(struct.pack("<i", -1 if d.head is None else d.head))
    return b"".join(out)


def write_program(p) -> bytes:
    """Serialize a validated `Program` (raises ProgramError if it does not validate).

    The image is joined once from its parts, the constants' data among them as they are, and
    the checksum is computed over the parts: a large program is copied once, not once per step.
    """
    code = p.validate()
    heads = any(d.head is not None for d in p.debug.values())
    minor = HEAD_MINOR if heads else 0
    sections = [
        ([code], len(p.instrs)),
        (_const_parts(p), len(p.consts)),
        ([_tensor_section(p)], len(p.tensors)),
        ([_debug_section(p, heads)], len(p.debug)),
        ([b"".join(_str(k) + _str(p.meta[k]) for k in sorted(p.meta))], len(p.meta)),
        ([b"".join(encode_call(c) for c in p.calls)], len(p.calls)),
    ]
    table, body, offset = [], [], TABLE_END
    for kind, (parts, count) in enumerate(sections, start=1):
        size = sum(len(part) for part in parts)
        table.append(SECTION.pack(kind, offset, size, count))
        padded = _align4(size)
        body += parts
        body.append(bytes(padded - size))
        offset += padded
    size = offset + CHECKSUM_BYTES
    name = p.target.encode("ascii")
    header = HEADER.pack(
        MAGIC, FORMAT_VERSION[0], minor, 0, len(SECTION_KINDS), size, 0, p.fingerprint, name
    )
    parts = [header, *table, *body]
    checksum = hashlib.sha256()
    for part in parts:
        checksum.update(part)
    parts.append(checksum.digest())
    return b"".join(parts)


def reseal(data: bytes) -> bytes:
    """Recompute the trailing checksum of ``data`` (tests use it to reach the deeper checks)."""
    if len(data) < CHECKSUM_BYTES:
        return data
    body = data[:-CHECKSUM_BYTES]
    return body + hashlib.sha256(body).digest()


# ---------------------------------------------------------------------------------------------
# Reading


class _Reader:
    """Bounded cursor over one section; every read checks the bytes that remain."""

    def __init__(self, data: bytes, what: str):
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int, what: str) -> bytes:
        """The next ``n`` bytes."""
        if n > len(self.data) - self.pos:
            raise BinaryFormatError(f"{self.what}: truncated reading {what} at byte {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple:
        """The next struct ``fmt`` values."""
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def str(self, what: str) -> str:
        """The next length-prefixed UTF-8 string."""
        (n,) = self.unpack("<H", f"{what} length")
        try:
            return self.take(n, what).decode("utf-8")
        except UnicodeDecodeError:
            raise BinaryFormatError(f"{self.what}: {what} is not valid UTF-8") from None

    def done(self) -> None:
        """Demand that the section was consumed exactly."""
        if self.pos != len(self.data):
            raise BinaryFormatError(f"{self.what}: {len(self.data) - self.pos} trailing bytes")


def _read_header(data: bytes) -> tuple[tuple, list[tuple[int, int, int]]]:
    if len(data) < TABLE_END + CHECKSUM_BYTES:
        raise BinaryFormatError(f"file too short ({len(data)} bytes) for an imcc program")
    magic, major, minor, flags, nsec, size, reserved, fp, name = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BinaryFormatError(f"bad magic {magic!r} (expected {MAGIC!r}): not an imcc program")
    if major != FORMAT_VERSION[0] or minor > FORMAT_VERSION[1]:
        raise BinaryFormatError(
            f"unsupported format version {major}.{minor} (this reader reads "
            f"{FORMAT_VERSION[0]}.0 to {FORMAT_VERSION[0]}.{FORMAT_VERSION[1]})"
        )
    if size != len(data):
        raise BinaryFormatError(f"header says {size} bytes but the file has {len(data)}")
    body = data[:-CHECKSUM_BYTES]
    if hashlib.sha256(body).digest() != data[-CHECKSUM_BYTES:]:
        raise BinaryFormatError("checksum mismatch: the file is corrupt")
    if flags or reserved:
        raise BinaryFormatError(f"unknown header flags 0x{flags:x} / reserved 0x{reserved:x}")
    if nsec != len(SECTION_KINDS):
        raise BinaryFormatError(f"expected {len(SECTION_KINDS)} sections, header says {nsec}")
    target = name.rstrip(b"\0")
    if b"\0" in target or not target.isascii() or name[31]:
        raise BinaryFormatError("target name is not zero-padded ASCII of at most 31 bytes")
    sections, expect = [], TABLE_END
    for i, kind_name in enumerate(SECTION_KINDS):
        kind, off, sz, count = SECTION.unpack_from(data, HEADER.size + i * SECTION.size)
        where = f"section table entry {i}"
        if kind != i + 1:
            raise BinaryFormatError(f"{where}: kind {kind}, expected {i + 1} ({kind_name})")
        if off != expect or sz > len(body) - off:
            raise BinaryFormatError(f"{where} ({kind_name}): offset {off} size {sz} out of place")
        if count > sz // MIN_RECORD[kind_name]:
            raise BinaryFormatError(f"{kind_name}: {count} items cannot fit in {sz} bytes")
        if any(data[off + sz : _align4(off + sz)]):
            raise BinaryFormatError(f"{kind_name}: non-zero padding after the section")
        sections.append((off, sz, count))
        expect = _align4(off + sz)
    if expect != len(body):
        raise BinaryFormatError(f"{len(body) - expect} unexpected bytes after the last section")
    return (target.decode("ascii"), fp, minor), sections


def _read_consts(r: _Reader, count: int) -> list[Const]:
    out = []
    for i in range(count):
        name = r.str(f"const {i} name")
        code, n, nbytes = r.unpack("<BII", f"const {name} header")
        if code not in DTYPE_BY_CODE:
            raise BinaryFormatError(f"const {name}: unknown dtype code {code}")
        out.append(Const(name, DTYPE_BY_CODE[code].name, n, r.take(nbytes, f"const {name} data")))
    return out


def _read_tensors(r: _Reader, count: int, consts: list[Const]) -> list[Tensor]:
    out = []
    for i in range(count):
        name = r.str(f"tensor {i} name")
        role, dtype, mem, ndim = r.unpack("<BBBB", f"tensor {name} header")
        if role >= len(ROLES) or dtype not in DTYPE_BY_CODE or mem >= len(MEMS):
            raise BinaryFormatError(
                f"tensor {name}: bad role/dtype/memory code {role}/{dtype}/{mem}"
            )
        if ndim > MAX_NDIM:
            raise BinaryFormatError(f"tensor {name}: {ndim} dims (at most {MAX_NDIM})")
        shape = r.unpack(f"<{ndim}I", f"tensor {name} shape")
        addr, scale, zp, blob, axis = r.unpack("<IfiiB", f"tensor {name} placement")
        if not -1 <= blob < len(consts):
            raise BinaryFormatError(f"tensor {name}: scales blob index {blob} out of range")
        if math.isnan(scale):
            raise BinaryFormatError(f"tensor {name}: scale is NaN")
        scales = None if blob == -1 else consts[blob].name
        out.append(
            Tensor(
                name,
                ROLES[role],
                DTYPE_BY_CODE[dtype].name,
                shape,
                MEMS[mem],
                addr,
                scale,
                zp,
                scales,
                axis,
            )
        )
    return out


def _read_debug(r: _Reader, count: int, minor: int) -> dict[int, DebugInfo]:
    out, last = {}, -1
    for _ in range(count):
        (index,) = r.unpack("<I", "debug index")
        if index <= last:
            raise BinaryFormatError(f"debug: instruction index {index} out of order")
        ir_op, node = r.str(f"debug {index} ir_op"), r.str(f"debug {index} onnx_node")
        head = None
        if minor >= HEAD_MINOR:
            (head,) = r.unpack("<i", f"debug {index} head")
            if head < -1:
                raise BinaryFormatError(
                    f"debug {index}: head {head} is neither -1 (none) nor an index"
                )
            head = None if head == -1 else head
        out[index] = DebugInfo(ir_op, node, head)
        last = index
    if minor >= HEAD_MINOR and all(d.head is None for d in out.values()):
        raise BinaryFormatError(
            f"format 2.{minor} but no debug entry names a head (such a program is written as 2.0)"
        )
    return out


def _read_meta(r: _Reader, count: int) -> dict[str, str]:
    out, last = {}, None
    for _ in range(count):
        key = r.str("meta key")
        if last is not None and key <= last:
            raise BinaryFormatError(f"meta: key {key!r} out of order")
        out[key] = r.str(f"meta {key} value")
        last = key
    return out


def read_fields(data: bytes) -> dict:
    """Parse a prog.bin image, validating header, checksum, every section and cross-reference;
    return the `Program` fields it holds, by name (`Program.from_bytes` then checks the rules
    that do not depend on the layout)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BinaryFormatError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    (target, fp, minor), sections = _read_header(data)
    readers = [
        _Reader(data[off : off + sz], kind) for kind, (off, sz, _) in zip(SECTION_KINDS, sections)
    ]
    counts = [count for _, _, count in sections]
    instrs = decode_all(readers[0].data)
    if len(instrs) != counts[0]:
        raise BinaryFormatError(f"code: {len(instrs)} instructions, table says {counts[0]}")
    consts = _read_consts(readers[1], counts[1])
    tensors = _read_tensors(readers[2], counts[2], consts)
    debug = _read_debug(readers[3], counts[3], minor)
    meta = _read_meta(readers[4], counts[4])
    try:
        calls = [decode_call(readers[5], i) for i in range(counts[5])]
    except CallError as err:
        raise BinaryFormatError(str(err)) from None
    for r in readers[1:]:
        r.done()
    return {
        "instrs": instrs,
        "tensors": tensors,
        "consts": consts,
        "debug": debug,
        "meta": meta,
        "target": target,
        "fingerprint": fp,
        "calls": calls,
    }
