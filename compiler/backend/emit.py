"""Emission: a module at the ``isa`` level as the runtime's `Program` (prog.bin in memory).

The isa dialect holds exactly what the binary holds; this module only moves it into the runtime's
types: tensor table, constant blobs, instructions (each ``cl.call`` numbered into the call table)
and the debug table (instruction → IR op → ONNX node, and the attention head of a per-head job).
Meta records how the program was made.
"""

from __future__ import annotations

import json

import numpy as np
from imcc.runtime.isa.calls import Call, Operand
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.errors import FieldError, ProgramError
from imcc.runtime.isa.program import Const, DebugInfo, Program, Tensor

from ..dialects import isa
from ..ir.attributes import DictAttr
from ..ir.builtin import ModuleOp
from ..ir.diagnostics import IRError, NameLoc

#: Module attributes copied into the program's meta section (as text).
META_ATTRS = ("imc.mapping", "imc.memory", "imcc.target", "imcc.target_overrides", "imcc.precision")


def is_isa_module(module: ModuleOp) -> bool:
    """Whether ``module`` is at the isa level (a flat program)."""
    return isa.TARGET_ATTR in module.attributes


def _operand(value) -> Operand | None:
    if not value:
        return None
    mem, addr, dtype, shape = value
    return Operand(mem, int(addr), dtype, tuple(int(d) for d in shape))


def emit_program(module: ModuleOp) -> Program:
    """The `Program` of an isa-level module (IRError naming the op if something is malformed)."""
    if not is_isa_module(module):
        raise IRError("emission needs a module at the isa level (run imc-to-isa)")
    p = Program(
        target=module.get_attr(isa.TARGET_ATTR),
        fingerprint=bytes.fromhex(module.get_attr(isa.FINGERPRINT_ATTR)),
    )
    for op in module.body.ops:
        if isinstance(op, isa.ConstOp):
            try:
                p.consts.append(
                    Const.from_values(
                        op.get_attr("name"), op.get_attr("dtype"), op.get_attr("value")
                    )
                )
            except ProgramError as exc:
                raise IRError(str(exc), op.location) from None
        elif isinstance(op, isa.TensorOp):
            p.tensors.append(
                Tensor(
                    op.get_attr("name"),
                    op.get_attr("role"),
                    op.get_attr("dtype"),
                    tuple(op.get_attr("shape")),
                    op.get_attr("mem"),
                    op.get_attr("addr"),
                    op.get_attr("scale", 1.0),
                    op.get_attr("zp", 0),
                )
            )
        elif isinstance(op, isa.InstrOp):
            fields = op.fields()
            if op.spec.mnemonic == "cl.call":
                fields["call"] = len(p.calls)
                p.calls.append(
                    Call(
                        op.get_attr("kernel"),
                        [_operand(v) for v in op.get_attr("inputs")],
                        [_operand(v) for v in op.get_attr("outputs")],
                        _plain(op.attributes["params"]),
                        op.get_attr("opset"),
                        op.get_attr("layout") or "",
                    )
                )
            try:
                p.instrs.append(Instr.make(op.spec.mnemonic, fields))
            except FieldError as exc:
                raise IRError(str(exc), op.location) from None
            node = op.location.name if isinstance(op.location, NameLoc) else ""
            ir_op = op.get_attr("isa.from") or op.name
            layer = op.get_attr("isa.layer") or node
            p.debug[len(p.instrs) - 1] = DebugInfo(ir_op, layer, op.get_attr("isa.head"))
    for key in META_ATTRS:
        if key in module.attributes:
            p.meta[key.replace("imcc.", "").replace("imc.", "")] = _text(module.attributes[key])
    for key in ("inputs", "outputs"):
        pairs = module.get_attr(f"isa.{key}") or []
        p.meta[key] = json.dumps({table: model for model, table in pairs}, sort_keys=True)
    p.meta["producer"] = "imcc"
    try:
        p.validate()
    except ProgramError as exc:
        raise IRError(f"the emitted program is invalid: {exc}") from None
    return p


def _plain(attr: DictAttr) -> dict:
    """Attribute values as the kernels take them (dense tensors as numpy arrays)."""
    out = {}
    for key, value in attr.entries:
        v = value.value
        out[key] = np.asarray(v) if isinstance(v, np.ndarray) else v
    return out


def _text(attr) -> str:
    v = attr.value
    return v if isinstance(v, str) else repr(v)
