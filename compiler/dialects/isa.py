"""The ``isa`` dialect: the program as the chip runs it, one op per instruction.

Generated from the runtime's ISA table (``runtime/isa/table.py``): every row becomes an op
``isa.<mnemonic>`` whose attributes are the row's fields (addresses resolved, arrays placed), so
this level says exactly what prog.bin will hold and nothing can drift from the table. Beside the
instructions, in program order, a module at this level holds its tensor table (``isa.tensor``)
and constant blobs (``isa.const``); the module attributes ``isa.target`` and
``isa.fingerprint`` name the chip. A ``cl.call`` carries its call table entry (kernel, operands,
attributes) as attributes; emission numbers the entries.

The reference interpreter runs a module at this level by emitting the program and executing it
on the simulated chip (``compiler/interp/isa_ops.py``): this level is exactly the binary.
"""

from __future__ import annotations

import math

from imcc.runtime.isa.program import ROLES
from imcc.runtime.isa.table import DTYPES, MEMS, TABLE, Field, InstrSpec

from ..ir.attributes import (
    ArrayAttr,
    BoolAttr,
    DenseElementsAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
)
from ..ir.diagnostics import VerificationError
from ..ir.ops import AttrDef, IROp

TARGET_ATTR = "isa.target"
FINGERPRINT_ATTR = "isa.fingerprint"

_KIND_ATTR = {
    "uint": IntegerAttr,
    "sint": IntegerAttr,
    "addr": IntegerAttr,
    "array": IntegerAttr,
    "mem": StringAttr,
    "dtype": StringAttr,
    "enum": StringAttr,
    "f32": FloatAttr,
    "bool": BoolAttr,
}

#: Fields of cl.call that emission fills from the call entry (not attributes of the op).
_CALL_ENTRY = (
    AttrDef("kernel", StringAttr, required=True),
    AttrDef("params", DictAttr, required=True),
    AttrDef("opset", IntegerAttr, required=True),
    AttrDef("layout", StringAttr),
    AttrDef("inputs", ArrayAttr, required=True, doc="[memory, address, dtype, [dims]] or []"),
    AttrDef("outputs", ArrayAttr, required=True, doc="[memory, address, dtype, [dims]] or []"),
)


class InstrOp(IROp):
    """Base class of the generated instruction ops."""

    spec: InstrSpec

    def fields(self) -> dict:
        """The instruction's field values (every field of the row, defaults filled)."""
        out = {}
        for f in self.spec.fields:
            if f.name in self.attributes:
                out[f.name] = self.get_attr(f.name)
            elif f.default is not None:
                out[f.name] = f.default
        return out

    def verify_(self) -> None:
        for f in self.spec.fields:
            value = self.get_attr(f.name)
            if value is None:
                continue
            if f.is_int and not f.min <= value <= f.max:
                raise VerificationError(
                    f"'{self.name}' field '{f.name}' = {value} is out of range {f.min}..{f.max}",
                    self.location,
                )
            if f.kind in ("mem", "dtype", "enum") and value not in f.choices:
                raise VerificationError(
                    f"'{self.name}' field '{f.name}' = '{value}' is not one of "
                    f"{', '.join(f.choices)}",
                    self.location,
                )


def _example_value(f: Field) -> str:
    if f.default is not None:
        value = f.default
    elif f.kind in ("mem", "dtype", "enum"):
        value = f.choices[0]
    elif f.kind == "f32":
        value = 1.0
    elif f.kind == "bool":
        value = False
    else:
        value = max(f.min, min(1, f.max))
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "inf" if value == math.inf else "-inf" if value == -math.inf else repr(value)
    return str(value)


def _make(spec: InstrSpec) -> type[InstrOp]:
    name = f"isa.{spec.mnemonic}"
    fields = [f for f in spec.fields if not (spec.mnemonic == "cl.call" and f.name == "call")]
    shown = [f for f in fields if f.default is None]
    entries = ", ".join(
        f"{f.name} = {_example_value(f)}" for f in sorted(shown, key=lambda f: f.name)
    )
    if spec.mnemonic == "cl.call":
        entries = (
            'inputs = [["L1", 0, "f32", [4]]], kernel = "onnx.Relu", ncores = 8, opset = 17, '
            'outputs = [["L1", 64, "f32", [4]]], params = {}'
        )
    attrs = f" {{{entries}}}" if entries else ""
    doc = (
        f"{spec.summary[0].upper()}{spec.summary[1:]} (unit: {spec.unit}).\n\n"
        f'{spec.semantics}\n\nExample:\n    "{name}"(){attrs} : () -> ()\n'
    )
    attr_defs = tuple(
        AttrDef(f.name, _KIND_ATTR[f.kind], required=f.default is None, doc=f.doc) for f in fields
    )
    if spec.mnemonic == "cl.call":
        attr_defs += _CALL_ENTRY
    cls_name = "".join(p.capitalize() for p in spec.mnemonic.replace(".", "_").split("_")) + "Op"
    return type(
        cls_name,
        (InstrOp,),
        {"name": name, "spec": spec, "attr_defs": attr_defs, "__doc__": doc},
    )


#: Mnemonic -> op class, for every row of the table.
INSTR_OPS: dict[str, type[InstrOp]] = {spec.mnemonic: _make(spec) for spec in TABLE}
globals().update({cls.__name__: cls for cls in INSTR_OPS.values()})


class TensorOp(IROp):
    """One tensor table entry: a named tensor of the program, where it lives and what it is
    (``input``, ``output``, ``const`` or ``scratch``); ``scale`` and ``zp`` describe quantized
    data.

    Example:
        "isa.tensor"() {addr = 0, dtype = "f32", mem = "L2", name = "input", role = "input", shape = [1, 1, 8, 8]} : () -> ()
    """

    name = "isa.tensor"
    attr_defs = (
        AttrDef("name", StringAttr, required=True),
        AttrDef("role", StringAttr, required=True),
        AttrDef("dtype", StringAttr, required=True),
        AttrDef("shape", ArrayAttr, required=True),
        AttrDef("mem", StringAttr, required=True),
        AttrDef("addr", IntegerAttr, required=True),
        AttrDef("scale", FloatAttr),
        AttrDef("zp", IntegerAttr),
    )

    def verify_(self) -> None:
        if self.get_attr("role") not in ROLES or self.get_attr("mem") not in MEMS:
            raise VerificationError(f"'{self.name}' has a bad role or memory", self.location)
        if self.get_attr("dtype") not in DTYPES:
            raise VerificationError(f"'{self.name}' has an unknown dtype", self.location)


class ConstOp(IROp):
    """A constant blob of the program (packed as ``dtype``: ``t2``/``i4`` weights or plain
    data); a ``const`` tensor of the same name says where it is loaded.

    Example:
        "isa.const"() {dtype = "t2", name = "fc.w0", value = dense<[[1, 0], [0, -1]]> : tensor<2x2xi8>} : () -> ()
    """

    name = "isa.const"
    attr_defs = (
        AttrDef("name", StringAttr, required=True),
        AttrDef("dtype", StringAttr, required=True),
        AttrDef("value", DenseElementsAttr, required=True),
    )

    def verify_(self) -> None:
        if self.get_attr("dtype") not in DTYPES:
            raise VerificationError(f"'{self.name}' has an unknown dtype", self.location)
