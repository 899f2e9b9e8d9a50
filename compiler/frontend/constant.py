"""Import of ONNX ``Constant`` nodes: every value form becomes one ``onnx.Constant`` with a dense
``value`` (see the op's docs), named after the node's output."""

from __future__ import annotations

import numpy as np
import onnx

from ..dialects.onnx import ConstantOp
from ..dialects.onnx.attribute_values import AttributeSchemaError, attribute_value
from ..ir.attributes import DenseElementsAttr
from ..ir.diagnostics import Location
from ..ir.types import from_numpy_dtype
from .errors import OnnxImportError, UnsupportedError
from .loader import LoadedModel, tensor_array

# The value attribute forms and the numpy type each implies (None: the tensor carries its own).
_FORMS = {
    "value": None,
    "sparse_value": None,
    "value_float": np.float32,
    "value_floats": np.float32,
    "value_int": np.int64,
    "value_ints": np.int64,
}
_STRING_FORMS = ("value_string", "value_strings")


def import_constant(
    node: onnx.NodeProto, name: str, loc: Location, loaded: LoadedModel
) -> ConstantOp:
    """The ``onnx.Constant`` for ``node`` (the importer appends it and binds its output)."""
    where = f"Constant node '{name}'"
    given = [a for a in node.attribute if a.name in _FORMS or a.name in _STRING_FORMS]
    if len(given) != 1 or len(node.attribute) != 1:
        names = [a.name for a in node.attribute]
        raise OnnxImportError(
            f"{where} needs exactly one value attribute, has {names}", loaded.source
        )
    attr = given[0]
    if attr.name in _STRING_FORMS:
        raise UnsupportedError(f"{where} holds strings, which imcc does not support", loaded.source)
    if attr.name == "value":
        array = tensor_array(attr.t, f"{where} attribute 'value'", loaded)
    else:
        try:
            array = np.asarray(attribute_value(attr, f"{where}: "), dtype=_FORMS[attr.name])
        except AttributeSchemaError as exc:
            raise OnnxImportError(str(exc), loaded.source) from None
    try:
        from_numpy_dtype(array.dtype)
    except ValueError:
        raise UnsupportedError(
            f"{where} has element type {array.dtype}, which imcc does not support", loaded.source
        ) from None
    value = DenseElementsAttr.from_array(array, hint=node.output[0])
    return ConstantOp.build(value, loc)
