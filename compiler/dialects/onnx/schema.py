"""What the ONNX operator schemas (``onnx.defs``) say, in the terms of the IR.

The ``onnx`` dialect has one op class per ONNX op type, but a model can import any opset from the
interpreter's minimum up to the newest one this onnx package knows, and an op's inputs, outputs and
attributes change between opsets (``Squeeze`` took ``axes`` as an attribute until opset 13 and as an
input after). So an op class declares the *union* of its schema versions (for named access and the
docs), and :func:`signature` gives the exact schema in force at one opset for verification.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import onnx
from onnx import AttributeProto
from onnx.defs import OpSchema

from ...ir.attributes import ArrayAttr, DenseElementsAttr, FloatAttr, IntegerAttr, StringAttr

#: The oldest opset the dialect represents. Models are imported natively from opset 9 on; older ones
#: are lifted to 9 by the version converter and kept at their own opset (7 or 8) only when that fails.
OLDEST_OPSET = 7

#: The newest opset of the default domain that the installed onnx package defines.
NEWEST_OPSET: int = onnx.defs.onnx_opset_version()

#: ONNX ``tensor(...)`` element type names -> IR scalar type spellings (only types numpy can hold).
ELEMENT_TYPES: dict[str, str] = {
    "float": "f32",
    "double": "f64",
    "float16": "f16",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "ui8",
    "uint16": "ui16",
    "uint32": "ui32",
    "uint64": "ui64",
    "bool": "i1",
}

#: ONNX attribute type -> the attribute class that holds it in the IR.
ATTR_KINDS: dict[int, type] = {
    AttributeProto.INT: IntegerAttr,
    AttributeProto.FLOAT: FloatAttr,
    AttributeProto.STRING: StringAttr,
    AttributeProto.INTS: ArrayAttr,
    AttributeProto.FLOATS: ArrayAttr,
    AttributeProto.STRINGS: ArrayAttr,
    AttributeProto.TENSOR: DenseElementsAttr,
    AttributeProto.SPARSE_TENSOR: DenseElementsAttr,
}

_TENSOR_RE = re.compile(r"tensor\((\w+)\)")


@dataclass(frozen=True)
class Param:
    """One formal input or output at one opset.

    ``types`` are the allowed IR element types (spelled as printed) and ``type_param`` the schema's
    type variable (``T``): values sharing a variable must share an element type.
    """

    name: str
    optional: bool
    variadic: bool
    types: frozenset[str]
    type_param: str
    homogeneous: bool = True


@dataclass(frozen=True)
class AttrSpec:
    """One schema attribute: its IR attribute class, whether it is required, and its ONNX type."""

    name: str
    kind: type
    required: bool
    onnx_type: int
    doc: str = ""


@dataclass(frozen=True)
class Signature:
    """Everything the verifier needs from one schema version."""

    op_type: str
    since_version: int
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]
    attrs: dict[str, AttrSpec]
    min_input: int
    min_output: int


def _allowed_types(schema: OpSchema, type_str: str) -> tuple[frozenset[str], str]:
    """Allowed IR element types of a formal parameter and its type variable."""
    for tc in schema.type_constraints:
        if tc.type_param_str == type_str:
            names = [m.group(1) for m in map(_TENSOR_RE.fullmatch, tc.allowed_type_strs) if m]
            return frozenset(ELEMENT_TYPES[n] for n in names if n in ELEMENT_TYPES), type_str
    m = _TENSOR_RE.fullmatch(type_str)
    if m:  # a fixed type such as tensor(int64) for a shape input
        return frozenset({ELEMENT_TYPES[m.group(1)]} if m.group(1) in ELEMENT_TYPES else ()), ""
    return frozenset(), ""


def _param(schema: OpSchema, p) -> Param:
    option = p.option
    types, type_param = _allowed_types(schema, p.type_str)
    return Param(
        name=p.name,
        optional=option == OpSchema.FormalParameterOption.Optional,
        variadic=option == OpSchema.FormalParameterOption.Variadic,
        types=types,
        type_param=type_param,
        homogeneous=bool(p.is_homogeneous),
    )


def first_sentence(text: str) -> str:
    """The first sentence of a schema description, on one line, without markdown links."""
    flat = " ".join(text.split())
    flat = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", flat)
    m = re.match(r"(.+?\.)(\s|$)", flat)
    return (m.group(1) if m else flat).strip()


def summary(doc: str, limit: int = 300) -> str:
    """The first paragraph of a schema's markdown doc on one line, cut to whole sentences within
    ``limit`` characters (at least one sentence)."""
    for para in re.split(r"\n\s*\n", doc.strip()):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(para.split()))
        if not text:
            continue
        sentences = re.findall(r".+?(?:\.(?=\s|$)|$)", text)
        kept = sentences[0].strip()
        for sentence in sentences[1:]:
            if len(kept) + len(sentence) > limit:
                break
            kept += sentence
        return kept.strip()
    return ""


@functools.cache
def signature(op_type: str, opset: int) -> Signature | None:
    """The schema of ``op_type`` in the default domain in force at ``opset`` (None if none)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, "")
    except onnx.defs.SchemaError:
        return None
    attrs = {
        name: AttrSpec(
            name, ATTR_KINDS[a.type], bool(a.required), int(a.type), first_sentence(a.description)
        )
        for name, a in sorted(schema.attributes.items())
        if a.type in ATTR_KINDS
    }
    return Signature(
        op_type=op_type,
        since_version=schema.since_version,
        inputs=tuple(_param(schema, p) for p in schema.inputs),
        outputs=tuple(_param(schema, p) for p in schema.outputs),
        attrs=attrs,
        min_input=schema.min_input,
        min_output=schema.min_output,
    )


@functools.cache
def versions(op_type: str) -> tuple[Signature, ...]:
    """The distinct schema versions of ``op_type`` in force at some opset from the interpreter's
    minimum to the newest, oldest first."""
    seen: dict[int, Signature] = {}
    for opset in range(OLDEST_OPSET, NEWEST_OPSET + 1):
        sig = signature(op_type, opset)
        if sig is not None:
            seen.setdefault(sig.since_version, sig)
    return tuple(seen[v] for v in sorted(seen))


@functools.cache
def newest_doc(op_type: str) -> str:
    """The markdown doc of the newest schema of ``op_type``."""
    return onnx.defs.get_schema(op_type, NEWEST_OPSET, "").doc or ""


def union_params(sigs: tuple[Signature, ...], outputs: bool) -> tuple[Param, ...]:
    """One parameter per position used by any version: the newest name at that position, optional
    if any version lacks it or makes it optional, variadic if the newest version says so."""
    lists = [s.outputs if outputs else s.inputs for s in sigs]
    width = max((len(p) for p in lists), default=0)
    merged = []
    for i in range(width):
        at = [params[i] for params in lists if i < len(params)]
        newest = at[-1]
        optional = len(at) < len(lists) or any(p.optional for p in at)
        types = frozenset().union(*(p.types for p in at))
        merged.append(Param(newest.name, optional, newest.variadic, types, newest.type_param))
    return tuple(merged)


def union_attrs(sigs: tuple[Signature, ...]) -> dict[str, AttrSpec]:
    """Every attribute any version declares (the newest declaration wins); required only if every
    version requires it."""
    merged: dict[str, AttrSpec] = {}
    for sig in sigs:
        for name, spec in sig.attrs.items():
            merged[name] = spec
    for name, spec in list(merged.items()):
        required = all(name in s.attrs and s.attrs[name].required for s in sigs)
        if spec.required != required:
            merged[name] = AttrSpec(name, spec.kind, required, spec.onnx_type, spec.doc)
    return dict(sorted(merged.items()))
