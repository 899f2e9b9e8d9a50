"""The in-memory form of a prog.bin: instructions, tensor table, constant blobs, debug info, meta.

`Program.validate` holds every rule that does not depend on byte layout, so the binary reader, the
writer and the assembler all enforce the same ones. Memory sizes come from the target, which this
package does not load: `Program.check_memory` takes them as an argument. The table entries
(`Tensor`, `Const`, `DebugInfo`) are defined in `entries`, the byte layout in `binfmt`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field

from ..fileio import read_file, write_file
from . import binfmt
from .calls import Call, CallError, check_call
from .encoding import Instr, encode
from .entries import MAX_HEAD, MAX_NDIM, NAME_RE, ROLES, Const, DebugInfo, Tensor
from .errors import BinaryFormatError, FieldError, ProgramError
from .packing import check_packed
from .table import DTYPES, MEMS

TARGET_RE = re.compile(r"[A-Za-z0-9_.-]{0,31}")
FINGERPRINT_BYTES = 16
MAX_STR = 0xFFFF  # strings are stored with a u16 length


def fingerprint_of(description: bytes | str) -> bytes:
    """The target fingerprint stored in binaries: the first 16 bytes of SHA-256 of the description."""
    data = description.encode() if isinstance(description, str) else bytes(description)
    return hashlib.sha256(data).digest()[:FINGERPRINT_BYTES]


@dataclass
class Program:
    """A complete IMC program; `to_bytes`/`from_bytes` and `save`/`load` convert it to prog.bin.

    ``calls`` is the call table of the ``cl.call`` instructions (see `calls`).
    """

    instrs: list[Instr] = field(default_factory=list)
    tensors: list[Tensor] = field(default_factory=list)
    consts: list[Const] = field(default_factory=list)
    debug: dict[int, DebugInfo] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    target: str = ""
    fingerprint: bytes = bytes(FINGERPRINT_BYTES)
    calls: list[Call] = field(default_factory=list)

    def tensor(self, name: str) -> Tensor:
        """The tensor called ``name`` (KeyError if none)."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def const(self, name: str) -> Const:
        """The constant blob called ``name`` (KeyError if none)."""
        for c in self.consts:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_bytes(self) -> bytes:
        """Serialize to the prog.bin format (validating first)."""
        return binfmt.write_program(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Program:
        """Parse and fully validate a prog.bin image; raise BinaryFormatError on any defect."""
        program = cls(**binfmt.read_fields(data))
        program.validate(exc=BinaryFormatError)
        return program

    @classmethod
    def load(cls, path: str | os.PathLike) -> Program:
        """Read and validate a prog.bin file."""
        return cls.from_bytes(read_file(path))

    def save(self, path: str | os.PathLike) -> None:
        """Write a prog.bin file atomically (temp file in the same directory, then rename)."""
        write_atomic(path, self.to_bytes())

    # -- validation ------------------------------------------------------------------------------

    def validate(self, exc: type[Exception] = ProgramError) -> bytes:
        """Check every layout-independent rule; raise ``exc`` with a message naming the culprit.
        Returns the instructions encoded back to back (encoding them is one of the checks)."""
        if not isinstance(self.target, str) or not TARGET_RE.fullmatch(self.target):
            raise exc(f"target name {self.target!r} must match {TARGET_RE.pattern}")
        if not isinstance(self.fingerprint, bytes) or len(self.fingerprint) != FINGERPRINT_BYTES:
            raise exc(f"target fingerprint must be {FINGERPRINT_BYTES} bytes")
        code = []
        for i, ins in enumerate(self.instrs):
            try:
                code.append(encode(ins))
            except FieldError as e:
                raise exc(f"instruction {i}: {e}") from None
        for i, ins in enumerate(self.instrs):
            if ins.mnemonic == "cl.call" and ins.fields["call"] >= len(self.calls):
                raise exc(f"instruction {i}: call {ins.fields['call']} is not in the call table")
        for i, c in enumerate(self.calls):
            try:
                check_call(i, c)
            except CallError as e:
                raise exc(str(e)) from None
        consts = self._check_consts(exc)
        self._check_tensors(consts, exc)
        for index, info in self.debug.items():
            if not isinstance(index, int) or not 0 <= index < len(self.instrs):
                raise exc(f"debug entry for instruction {index}: no such instruction")
            _check_str(info.ir_op, f"debug entry {index}: ir_op", exc)
            _check_str(info.onnx_node, f"debug entry {index}: onnx_node", exc)
            head = info.head
            if head is not None and (
                not isinstance(head, int) or isinstance(head, bool) or not 0 <= head <= MAX_HEAD
            ):
                raise exc(f"debug entry {index}: head {head!r} must be None or 0..{MAX_HEAD}")
        for key, value in self.meta.items():
            _check_name(key, "meta key", exc)
            _check_str(value, f"meta {key}", exc)
        return b"".join(code)

    def _check_consts(self, exc) -> dict[str, Const]:
        seen: dict[str, Const] = {}
        for c in self.consts:
            _check_name(c.name, "const name", exc)
            if c.name in seen:
                raise exc(f"const {c.name}: defined twice")
            if c.dtype not in DTYPES or not isinstance(c.raw, bytes):
                raise exc(f"const {c.name}: unknown dtype {c.dtype!r} or raw data not bytes")
            if not isinstance(c.count, int) or not 0 <= c.count < 2**32:
                raise exc(f"const {c.name}: bad element count {c.count!r}")
            problem = check_packed(c.dtype, c.raw, c.count)
            if problem:
                raise exc(f"const {c.name}: {problem}")
            seen[c.name] = c
        return seen

    def _check_tensors(self, consts: dict[str, Const], exc) -> None:
        names: set[str] = set()
        for t in self.tensors:
            where = f"tensor {t.name}"
            _check_name(t.name, "tensor name", exc)
            if t.name in names:
                raise exc(f"{where}: defined twice")
            names.add(t.name)
            if t.role not in ROLES:
                raise exc(f"{where}: role {t.role!r} is not one of {', '.join(ROLES)}")
            if t.dtype not in DTYPES:
                raise exc(f"{where}: unknown dtype {t.dtype!r}")
            if t.mem not in MEMS:
                raise exc(f"{where}: memory {t.mem!r} is not one of {', '.join(MEMS)}")
            if len(t.shape) > MAX_NDIM or any(not 0 <= d < 2**32 for d in t.shape):
                raise exc(f"{where}: shape {list(t.shape)} needs ≤ {MAX_NDIM} dims in 0..2^32-1")
            if not isinstance(t.addr, int) or t.addr < 0 or t.addr + t.nbytes > 2**32:
                raise exc(f"{where}: bytes {t.addr}..{t.addr + t.nbytes} exceed 32-bit addresses")
            if math.isnan(t.scale) or not isinstance(t.zp, int) or not -(2**31) <= t.zp < 2**31:
                raise exc(f"{where}: scale must not be NaN and zp must fit int32")
            if t.role == "const":
                self._check_const_data(t, consts, exc)
            elif t.name in consts:
                raise exc(f"{where}: a {t.role} tensor cannot have constant data")
            if t.scales is None:
                if t.axis != 0:
                    raise exc(f"{where}: axis given without per-channel scales")
                continue
            blob = consts.get(t.scales)
            if not t.shape or not 0 <= t.axis < len(t.shape):
                raise exc(f"{where}: axis {t.axis} out of range for shape {list(t.shape)}")
            if blob is None or blob.dtype != "f32" or blob.count != t.shape[t.axis]:
                raise exc(f"{where}: scales must name an f32 const of {t.shape[t.axis]} elements")

    @staticmethod
    def _check_const_data(t: Tensor, consts: dict[str, Const], exc) -> None:
        blob = consts.get(t.name)
        if blob is None:
            raise exc(f"tensor {t.name}: const tensor without a const blob of the same name")
        if blob.dtype != t.dtype or blob.count != t.size:
            raise exc(
                f"tensor {t.name}: const blob holds {blob.count} × {blob.dtype}, "
                f"tensor needs {t.size} × {t.dtype}"
            )

    def check_memory(self, mem_sizes: dict[str, int], exc: type[Exception] = ProgramError) -> None:
        """Check that tensors and instruction operand addresses lie inside the target memories.

        Instruction operands are checked at their base address only; the simulator checks the
        full byte ranges it touches.
        """
        for t in self.tensors:
            size = mem_sizes[t.mem]
            if t.addr + t.nbytes > size:
                raise exc(
                    f"tensor {t.name}: bytes {t.addr}..{t.addr + t.nbytes} lie outside "
                    f"{t.mem} ({size} bytes)"
                )
        for i, ins in enumerate(self.instrs):
            for f in ins.spec.fields:
                if f.kind != "addr":
                    continue
                mem = ins.fields[f.name[: -len("addr")] + "mem"]
                if ins.fields[f.name] >= mem_sizes[mem]:
                    raise exc(
                        f"instruction {i} ({ins.mnemonic}): {f.name}={ins.fields[f.name]} lies "
                        f"outside {mem} ({mem_sizes[mem]} bytes)"
                    )


def _check_name(name, what: str, exc) -> None:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise exc(f"{what} {name!r} must match {NAME_RE.pattern}")


def _check_str(value, what: str, exc) -> None:
    if not isinstance(value, str) or len(value.encode("utf-8", "surrogatepass")) > MAX_STR:
        raise exc(f"{what}: must be a string of at most {MAX_STR} UTF-8 bytes")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise exc(f"{what}: not encodable as UTF-8") from None


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` by the output rule of ``imcc.runtime.fileio``."""
    write_file(path, data)
