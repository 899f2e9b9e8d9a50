"""ONNX node attributes as plain Python/numpy values, with schema defaults filled in.

Part of the onnx dialect: the importer reads node attributes through it, the generated op classes
take their defaults from it, and the kernels read attributes from such a dict, in which every
attribute the operator schema (at the model's opset) gives a default is present. Values are normalised:
INT -> int, FLOAT -> float, STRING -> str, TENSOR / SPARSE_TENSOR -> numpy array, and the
list forms -> lists of those. Subgraph and type attributes have no plain form and are
rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, numpy_helper

__all__ = [
    "AttributeSchemaError",
    "attribute_value",
    "fill_defaults",
    "node_attributes",
    "schema_for",
]

_A = AttributeProto


class AttributeSchemaError(ValueError):
    """An attribute is unknown to, missing from, or mistyped for the op's schema."""


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AttributeSchemaError(f"{where}: string is not valid UTF-8") from None


def _tensor(proto: onnx.TensorProto, where: str) -> np.ndarray:
    if proto.data_location == onnx.TensorProto.EXTERNAL:
        raise AttributeSchemaError(f"{where}: tensor refers to external data, which is not loaded")
    try:
        return numpy_helper.to_array(proto)
    except Exception as error:  # onnx raises several types for malformed tensors
        raise AttributeSchemaError(f"{where}: cannot decode tensor: {error}") from None


def _sparse(proto: onnx.SparseTensorProto, where: str) -> np.ndarray:
    """Densify a sparse tensor: indices are [NNZ] linear or [NNZ, rank] coordinates."""
    values = _tensor(proto.values, where)
    indices = _tensor(proto.indices, where).astype(np.int64)
    dims = tuple(int(d) for d in proto.dims)
    dense = np.zeros(dims, dtype=values.dtype)
    if indices.ndim == 2:
        indices = (
            np.ravel_multi_index(tuple(indices.T), dims) if indices.size else indices.reshape(-1)
        )
    if indices.size and (indices.min() < 0 or indices.max() >= dense.size):
        raise AttributeSchemaError(f"{where}: sparse index out of range for shape {list(dims)}")
    dense.reshape(-1)[indices] = values.reshape(-1)
    return dense


def attribute_value(attr: AttributeProto, where: str = "") -> Any:
    """Plain Python/numpy value of one AttributeProto (see the module docstring)."""
    where = f"{where}attribute '{attr.name}'"
    kind = attr.type
    if kind == _A.INT:
        return int(attr.i)
    if kind == _A.FLOAT:
        return float(attr.f)
    if kind == _A.STRING:
        return _text(attr.s, where)
    if kind == _A.TENSOR:
        return _tensor(attr.t, where)
    if kind == _A.SPARSE_TENSOR:
        return _sparse(attr.sparse_tensor, where)
    if kind == _A.INTS:
        return [int(v) for v in attr.ints]
    if kind == _A.FLOATS:
        return [float(v) for v in attr.floats]
    if kind == _A.STRINGS:
        return [_text(v, where) for v in attr.strings]
    if kind == _A.TENSORS:
        return [_tensor(t, where) for t in attr.tensors]
    if kind == _A.SPARSE_TENSORS:
        return [_sparse(t, where) for t in attr.sparse_tensors]
    name = _A.AttributeType.Name(kind) if kind in _A.AttributeType.values() else str(kind)
    raise AttributeSchemaError(f"{where}: {name} attributes are not supported")


def schema_for(op_type: str, opset: int, domain: str = "") -> onnx.defs.OpSchema:
    """The schema of ``op_type`` in force at ``opset``, or AttributeSchemaError."""
    try:
        return onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        where = f" in domain '{domain}'" if domain else ""
        raise AttributeSchemaError(f"{op_type}: no schema{where} at opset {opset}") from None


def _coerce(value: Any, expected: int) -> Any:
    """Turn ints into floats where the schema wants FLOAT(S); exporters sometimes write INTs."""
    if expected == _A.FLOAT and isinstance(value, int):
        return float(value)
    if expected == _A.FLOATS and isinstance(value, list) and all(isinstance(v, int) for v in value):
        return [float(v) for v in value]
    return value


def fill_defaults(
    op_type: str, attrs: dict[str, Any], opset: int, domain: str = ""
) -> dict[str, Any]:
    """Return ``attrs`` plus every schema default not given; check names and required ones.

    ``attrs`` must already be plain values (for example from `attribute_value`).
    """
    schema = schema_for(op_type, opset, domain)
    known = schema.attributes
    unknown = sorted(set(attrs) - set(known))
    if unknown:
        raise AttributeSchemaError(f"{op_type}: unknown attribute(s) {unknown} at opset {opset}")
    filled: dict[str, Any] = {}
    for name in sorted(known):
        spec = known[name]
        if name in attrs:
            filled[name] = _coerce(attrs[name], spec.type)
        elif spec.default_value.type != _A.UNDEFINED:
            filled[name] = attribute_value(spec.default_value, f"{op_type}: default ")
        elif spec.required:
            raise AttributeSchemaError(f"{op_type}: required attribute '{name}' is missing")
    return filled


_WIDENS = {(_A.INT, _A.FLOAT), (_A.INTS, _A.FLOATS)}


def _declared(
    attributes: Iterable[AttributeProto], schema: onnx.defs.OpSchema, op_type: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attr in attributes:
        spec = schema.attributes.get(attr.name)
        if spec is not None and attr.type != spec.type and (attr.type, spec.type) not in _WIDENS:
            raise AttributeSchemaError(
                f"{op_type}: attribute '{attr.name}' is {_A.AttributeType.Name(attr.type)}, "
                f"the schema wants {_A.AttributeType.Name(int(spec.type))}"
            )
        if attr.name in values:
            raise AttributeSchemaError(f"{op_type}: attribute '{attr.name}' is given twice")
        if attr.ref_attr_name:
            raise AttributeSchemaError(
                f"{op_type}: attribute '{attr.name}' references a function attribute"
            )
        values[attr.name] = attribute_value(attr, f"{op_type}: ")
    return values


def node_attributes(node: onnx.NodeProto, opset: int) -> dict[str, Any]:
    """All attributes of ``node`` as plain values, schema defaults filled for ``opset``."""
    schema = schema_for(node.op_type, opset, node.domain)
    attrs = _declared(node.attribute, schema, node.op_type)
    return fill_defaults(node.op_type, attrs, opset, node.domain)
