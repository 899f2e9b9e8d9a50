"""Generate one op class per ONNX op type from its ``onnx.defs`` schemas.

A generated class is what a hand-written one would be: a docstring (the schema's summary and a
one-line example in the generic textual form), operand and result declarations (the union of the
op's schema versions, see schema.py), attribute declarations with their ONNX descriptions, and
traits. Ops are pure unless ONNX semantics make them random (:data:`IMPURE`).
"""

from __future__ import annotations

import onnx

from ...ir.attributes import Attribute
from ...ir.ops import AttrDef, OperandDef, Pure, ResultDef, tensor_or_none, tensor_type
from ...ir.printer import Printer
from .attribute_values import attribute_value
from .ops import OnnxOp, to_attribute
from .schema import Param, newest_doc, summary, union_attrs, union_params, versions

#: Ops with effects the optimizer must respect, and why.
IMPURE: dict[str, str] = {
    "Dropout": "in training mode it draws a random mask, so two Dropouts are not the same value",
}

# The element type an example shows, in order of preference.
_EXAMPLE_TYPES = ("f32", "i64", "i1", "i32", "f16", "ui8", "i8")


# Ops whose data (and weight) values are NCHW images in examples; other values show as 1-D.
_IMAGE_OPS = frozenset(
    {"AveragePool", "BatchNormalization", "Conv", "ConvTranspose", "GlobalAveragePool",
     "GlobalMaxPool", "LRN", "MaxPool"}
)  # fmt: skip


def _example_type(op_type: str, param: Param, position: int) -> str:
    element = next((t for t in _EXAMPLE_TYPES if t in param.types), "f32")
    image = op_type in _IMAGE_OPS and (position == 0 or param.name == "W")
    return f"tensor<{'?x?x?x?x' if image else '?x'}{element}>"


def _names(op_type: str, params: tuple[Param, ...]) -> list[tuple[str, str]]:
    """(SSA name, type) per example value; variadic parameters show two values."""
    out = []
    for i, p in enumerate(params):
        t = _example_type(op_type, p, i)
        out += [(f"%{p.name}_0", t), (f"%{p.name}_1", t)] if p.variadic else [(f"%{p.name}", t)]
    return out


def default_attributes(op_type: str, opset: int) -> dict[str, Attribute]:
    """The schema defaults at ``opset`` as IR attributes (what the importer fills in)."""
    schema = onnx.defs.get_schema(op_type, opset, "")
    defaults = {}
    for name, spec in sorted(schema.attributes.items()):
        if spec.default_value.type != onnx.AttributeProto.UNDEFINED:
            value = attribute_value(spec.default_value, f"{op_type}: default ")
            defaults[name] = to_attribute(value, spec.type)
    return defaults


def example(op_type: str) -> str:
    """A one-line generic-form example of the op at the newest opset, with default attributes."""
    newest = versions(op_type)[-1]
    ins = _names(op_type, newest.inputs)
    outs = _names(op_type, newest.outputs)
    printer = Printer()
    attrs = default_attributes(op_type, newest.since_version)
    attr_text = f" {printer.attr_dict(attrs)}" if attrs else ""
    if len(outs) == 1:
        lhs, result_types = f"{outs[0][0]} = ", outs[0][1]
    else:
        lhs, result_types = f"%out:{len(outs)} = ", "(" + ", ".join(t for _, t in outs) + ")"
    operands = ", ".join(n for n, _ in ins)
    types = ", ".join(t for _, t in ins)
    return f'{lhs}"onnx.{op_type}"({operands}){attr_text} : ({types}) -> {result_types}'


def make_op_class(op_type: str) -> type[OnnxOp]:
    """Build (and thereby register) the op class ``onnx.<op_type>``."""
    sigs = versions(op_type)
    if not sigs:
        raise ValueError(f"ONNX op {op_type} has no schema between the supported opsets")
    inputs = union_params(sigs, outputs=False)
    outputs = union_params(sigs, outputs=True)
    attrs = union_attrs(sigs)
    doc = summary(newest_doc(op_type)) or f"The ONNX {op_type} operator."
    impure = IMPURE.get(op_type)
    if impure:
        doc += f" Not pure: {impure}."
    since = ", ".join(str(s.since_version) for s in sigs)
    doc += f"\n\nGenerated from onnx.defs (schema versions {since}).\n\nExample:\n    "
    doc += example(op_type)
    namespace = {
        "__doc__": doc,
        "__module__": OnnxOp.__module__,
        "name": f"onnx.{op_type}",
        "op_type": op_type,
        "operand_defs": tuple(
            OperandDef(
                p.name, tensor_or_none if p.optional else tensor_type, p.variadic, p.optional
            )
            for p in inputs
        ),
        "result_defs": tuple(
            ResultDef(p.name, tensor_or_none if p.optional else tensor_type, p.variadic)
            for p in outputs
        ),
        "attr_defs": tuple(AttrDef(a.name, a.kind, a.required, a.doc) for a in attrs.values()),
        "traits": frozenset() if impure else frozenset({Pure}),
    }
    return type(f"{op_type}Op", (OnnxOp,), namespace)
