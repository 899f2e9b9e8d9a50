"""Print IR in MLIR's generic op form.

Every op prints as ``%r = "dialect.op"(%a, %b) ({regions}) {attrs} : (operand types) -> result
types``, optionally followed by ``loc(...)``. Values are numbered ``%0, %1, ...`` and block arguments
``%arg0, ...`` afresh inside each op that is isolated from above (a function), so a function's text does
not depend on what precedes it. Attribute dictionaries print with sorted keys. Dense tensors with more
than ``inline_limit`` elements print as ``dense_resource<name>`` and their bytes go to the trailing
``{-# dialect_resources: ... #-}`` section; with ``elide_resources`` the bytes are left out (the text is
then for reading, not for running).
"""

from __future__ import annotations

import io
import re

import numpy as np

from .attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DialectAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnallocatedAttr,
    UnitAttr,
)
from .core import Operation, Region, Value
from .diagnostics import FileLineColLoc, Location, NameLoc, UnknownLoc
from .ops import IsolatedFromAbove
from .types import FloatType, IntegerType, i1, i64

ELIDED = "__elided__"
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.$-]*")
_BARE_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.$]*")


class ElidedElementsAttr(DenseElementsAttr):
    """A dense tensor whose bytes were left out of a dump; printing keeps it elided."""


def format_float(value: float, t=None) -> str:
    """Shortest text that parses back to the same value of type ``t`` (f32 by default)."""
    v = float(value)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    kind = str(t) if t is not None else "f32"
    if kind == "f32":
        s = str(np.float32(v))
    elif kind == "f16":
        s = str(np.float16(v))
    else:
        s = repr(v)
    if "e" in s and "." not in s.split("e")[0]:
        mant, exp = s.split("e")
        s = f"{mant}.0e{exp}"
    elif "." not in s and "e" not in s:
        s += ".0"
    return s


def format_string(s: str) -> str:
    out = []
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_key(key: str) -> str:
    return key if _BARE_KEY_RE.fullmatch(key) else format_string(key)


class Printer:
    """Prints ops; create one per output so that value numbering and resources are consistent."""

    def __init__(
        self, debuginfo: bool = False, inline_limit: int = 16, elide_resources: bool = False
    ):
        self.debuginfo = debuginfo
        self.inline_limit = inline_limit
        self.elide_resources = elide_resources
        self.out = io.StringIO()
        self._names: dict[int, str] = {}
        self._counter = [0, 0]  # [values, block arguments] in the current scope
        self._resources: dict[bytes, str] = {}
        self._resource_data: dict[str, DenseElementsAttr] = {}

    # -- entry points -----------------------------------------------------------------------------
    def print_top(self, op: Operation) -> str:
        self.print_op(op, 0)
        self._print_resources()
        return self.out.getvalue()

    # -- ops --------------------------------------------------------------------------------------
    def print_op(self, op: Operation, indent: int) -> None:
        w = self.out.write
        w("  " * indent)
        if op.results:
            first = self._number(op.results[0])
            w(f"%{first}" + (f":{len(op.results)}" if len(op.results) > 1 else "") + " = ")
            if len(op.results) > 1:
                for i, r in enumerate(op.results):
                    self._names[id(r)] = f"{first}#{i}"
        w(format_string(op.name))
        w("(" + ", ".join(self.value_ref(v) for v in op.operands) + ")")
        if op.regions:
            saved = None
            if op.has_trait(IsolatedFromAbove):
                saved = self._counter
                self._counter = [0, 0]
            w(" (")
            for i, region in enumerate(op.regions):
                if i:
                    w(", ")
                self.print_region(region, indent)
            w(")")
            if saved is not None:
                self._counter = saved
        if op.attributes:
            w(" " + self.attr_dict(op.attributes))
        ins = ", ".join(str(v.type) for v in op.operands)
        if len(op.results) == 1:
            w(f" : ({ins}) -> {self._result_type(op.results[0].type)}")
        else:
            outs = ", ".join(str(r.type) for r in op.results)
            w(f" : ({ins}) -> ({outs})")
        if self.debuginfo:
            w(" " + format_location(op.location))
        w("\n")

    @staticmethod
    def _result_type(t) -> str:
        s = str(t)
        return f"({s})" if s.startswith("(") else s

    def print_region(self, region: Region, indent: int) -> None:
        w = self.out.write
        w("{\n")
        for block in region.blocks:
            for a in block.args:
                self._names[id(a)] = f"arg{self._counter[1]}"
                self._counter[1] += 1
        labels = {id(b): f"bb{i}" for i, b in enumerate(region.blocks)}
        for i, block in enumerate(region.blocks):
            if i > 0 or block.args:
                args = ", ".join(f"{self.value_ref(a)}: {a.type}" for a in block.args)
                w(
                    "  " * indent
                    + f"^{labels[id(block)]}"
                    + (f"({args})" if block.args else "")
                    + ":\n"
                )
            for op in block.ops:
                self.print_op(op, indent + 1)
        w("  " * indent + "}")

    def _number(self, value: Value) -> str:
        name = str(self._counter[0])
        self._counter[0] += 1
        self._names[id(value)] = name
        return name

    def value_ref(self, value: Value) -> str:
        name = self._names.get(id(value))
        # A value defined nowhere in the printed IR (a verifier error) still prints recognisably.
        return "%<<UNKNOWN>>" if name is None else "%" + name

    # -- attributes -------------------------------------------------------------------------------
    def attr_dict(self, attrs: dict[str, Attribute]) -> str:
        body = ", ".join(
            format_key(k) if isinstance(v, UnitAttr) else f"{format_key(k)} = {self.attr(v)}"
            for k, v in sorted(attrs.items())
        )
        return "{" + body + "}"

    def attr(self, a: Attribute) -> str:
        if isinstance(a, BoolAttr):
            return "true" if a.bool_value else "false"
        if isinstance(a, IntegerAttr):
            if a.type == i1:
                return "true" if a.int_value else "false"
            return str(a.int_value) if a.type == i64 else f"{a.int_value} : {a.type}"
        if isinstance(a, FloatAttr):
            text = format_float(a.float_value, a.type)
            return text if str(a.type) == "f32" else f"{text} : {a.type}"
        if isinstance(a, StringAttr):
            return format_string(a.str_value)
        if isinstance(a, UnitAttr):
            return "unit"
        if isinstance(a, UnallocatedAttr):
            return "?"
        if isinstance(a, TypeAttr):
            return str(a.type_value)
        if isinstance(a, SymbolRefAttr):
            return "@" + (a.symbol if _IDENT_RE.fullmatch(a.symbol) else format_string(a.symbol))
        if isinstance(a, ArrayAttr):
            return "[" + ", ".join(self.attr(e) for e in a.elements) + "]"
        if isinstance(a, DictAttr):
            return self.attr_dict(dict(a.entries))
        if isinstance(a, DenseArrayAttr):
            vals = ", ".join(self._scalar(v, a.element_type) for v in a.values)
            return f"array<{a.element_type}" + (f": {vals}>" if a.values else ">")
        if isinstance(a, DenseElementsAttr):
            return self.dense(a)
        if isinstance(a, DialectAttr):
            return str(a)
        raise TypeError(f"cannot print attribute {type(a).__name__}")

    def _scalar(self, v, t) -> str:
        if isinstance(t, FloatType):
            return format_float(v, t)
        if isinstance(t, IntegerType) and t.width == 1:
            return "true" if v else "false"
        return str(int(v))

    def dense(self, a: DenseElementsAttr) -> str:
        t = a.type
        if isinstance(a, ElidedElementsAttr):
            return f"dense_resource<{ELIDED}> : {t}"
        flat = a.array.reshape(-1)
        if flat.size <= self.inline_limit or a.is_splat():
            if a.is_splat() and flat.size > 1:
                return f"dense<{self._scalar(flat[0], t.element_type)}> : {t}"
            return f"dense<{self._nested(a.array, t.element_type)}> : {t}"
        if self.elide_resources:
            return f"dense_resource<{ELIDED}> : {t}"
        return f"dense_resource<{self._resource_name(a)}> : {t}"

    def _nested(self, arr: np.ndarray, et) -> str:
        if arr.ndim == 0:
            return self._scalar(arr.item(), et)
        return "[" + ", ".join(self._nested(sub, et) for sub in arr) + "]"

    def _resource_name(self, a: DenseElementsAttr) -> str:
        key = a.digest()
        name = self._resources.get(key)
        if name is not None:
            return name
        base = re.sub(r"[^A-Za-z0-9_.]", "_", a.hint or "blob")
        if not base or not (base[0].isalpha() or base[0] == "_"):
            base = "_" + base
        name, n = base, 0
        while name in self._resource_data or name == ELIDED:
            n += 1
            name = f"{base}_{n}"
        self._resources[key] = name
        self._resource_data[name] = a
        return name

    def _print_resources(self) -> None:
        if not self._resource_data:
            return
        w = self.out.write
        w("\n{-#\n  dialect_resources: {\n    builtin: {\n")
        items = list(self._resource_data.items())
        for i, (name, a) in enumerate(items):
            blob = (4).to_bytes(4, "little") + a.array.tobytes()
            sep = "," if i + 1 < len(items) else ""
            w(f'      {name}: "0x{blob.hex().upper()}"{sep}\n')
        w("    }\n  }\n#-}\n")


def format_location(loc: Location) -> str:
    if isinstance(loc, NameLoc):
        return f"loc({format_string(loc.name)})"
    if isinstance(loc, FileLineColLoc):
        return f"loc({format_string(loc.filename)}:{loc.line}:{loc.col})"
    if isinstance(loc, UnknownLoc):
        return "loc(unknown)"
    return "loc(unknown)"


def print_ir(
    op: Operation, debuginfo: bool = False, elide_resources: bool = False, inline_limit: int = 16
) -> str:
    """The generic textual form of ``op`` (usually a module), with its resource section."""
    return Printer(debuginfo, inline_limit, elide_resources).print_top(op)
