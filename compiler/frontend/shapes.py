"""Checking the model and inferring every value's type.

ONNX's checker and shape inference run on a *slim* copy of the model: large initializers (and large
Constant nodes) become typed graph inputs, so neither serializes megabytes of weights. Before
inference the graph inputs' symbolic dimensions are pinned: to the sizes the user gives, and a
symbolic leading (batch) dimension nobody pinned to 1, with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import onnx
from onnx import helper

from .errors import InputShapeError, OnnxImportError, UnsupportedError
from .onnx_types import tensor_type

#: Tensors with more elements than this stay out of the model the checker and inference see.
SLIM_LIMIT = 1024

Notes = Callable[[str], None]


def _num_elements(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims, dtype=np.int64)) if tensor.dims else 1


def _is_big(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == onnx.TensorProto.EXTERNAL or _num_elements(tensor) > SLIM_LIMIT


def _big_constant(node: onnx.NodeProto) -> onnx.TensorProto | None:
    if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or len(node.output) != 1:
        return None
    for a in node.attribute:
        if a.name == "value" and a.type == onnx.AttributeProto.TENSOR and _is_big(a.t):
            return a.t
    return None


def slim_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without large tensor data; the big tensors become typed graph inputs."""
    graph = model.graph
    slim = onnx.ModelProto(
        ir_version=model.ir_version,
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        domain=model.domain,
        model_version=model.model_version,
    )
    slim.opset_import.extend(model.opset_import)
    slim.functions.extend(model.functions)
    g = slim.graph
    g.name = graph.name
    g.input.extend(graph.input)
    g.output.extend(graph.output)
    g.value_info.extend(graph.value_info)
    declared = {v.name for v in graph.input}
    for t in graph.initializer:
        if not _is_big(t):
            g.initializer.append(t)
        elif t.name not in declared:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for node in graph.node:
        big = _big_constant(node)
        if big is None:
            g.node.append(node)
        else:
            g.input.append(
                helper.make_tensor_value_info(node.output[0], big.data_type, list(big.dims))
            )
    g.sparse_initializer.extend(graph.sparse_initializer)
    return slim


def real_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """Graph inputs that are not initializers (those are constants), in graph order."""
    constant = {t.name for t in graph.initializer}
    return [v for v in graph.input if v.name not in constant]


def pin_input_shapes(
    graph: onnx.GraphProto,
    input_shapes: Mapping[str, Sequence[int]] | None,
    notes: Notes,
    source: str,
    input_names: Sequence[str] | None = None,
) -> None:
    """Fix the symbolic dimensions of ``graph``'s inputs in place.

    ``input_shapes`` gives full shapes by input name; a symbol (``batch``) fixed in one input is
    fixed everywhere it appears (inputs, outputs, value infos). A leading symbolic dimension left
    over is taken as 1, with a note. ``input_names`` are the model's real inputs (a slim graph also
    has its big initializers as inputs).
    """
    names = set(input_names) if input_names is not None else {v.name for v in real_inputs(graph)}
    inputs = {v.name: v for v in graph.input if v.name in names}
    for name, value in inputs.items():
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            raise UnsupportedError(
                f"input '{name}' is a {kind or 'value of unknown type'}, not a tensor", source
            )
    given = dict(input_shapes or {})
    unknown = sorted(set(given) - set(inputs))
    if unknown:
        names = ", ".join(inputs) or "none"
        raise InputShapeError(
            f"input_shapes names unknown input(s) {unknown}; the model's inputs: {names}", source
        )
    bindings: dict[str, int] = {}
    for name, shape in given.items():
        _pin_one(inputs[name], shape, bindings, source)
    defaulted: dict[str, list[str]] = {}
    user_bound = set(bindings)
    for name, value in inputs.items():
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        if name in given or not dims or dims[0].HasField("dim_value"):
            continue
        symbol = dims[0].dim_param
        if symbol and symbol in user_bound:
            continue
        if symbol:
            bindings[symbol] = 1
            defaulted.setdefault(symbol, []).append(name)
        else:
            dims[0].dim_value = 1
            defaulted.setdefault("?", []).append(name)
    for symbol, names in defaulted.items():
        what = f" '{symbol}'" if symbol != "?" else ""
        listed = ", ".join(f"'{n}'" for n in names)
        notes(
            f"input{'s' if len(names) > 1 else ''} {listed}: symbolic leading dimension{what} taken "
            f"as batch size 1 (pin it with --input-shape {names[0]}=1x...)"
        )
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.type.HasField("tensor_type"):
            for d in value.type.tensor_type.shape.dim:
                if d.HasField("dim_param") and d.dim_param in bindings:
                    d.dim_value = bindings[d.dim_param]


def _pin_one(
    value: onnx.ValueInfoProto, shape: Sequence[int], bindings: dict[str, int], source: str
):
    name = value.name
    tt = value.type.tensor_type
    shape = [int(d) for d in shape]
    if any(d < 0 for d in shape):
        raise InputShapeError(f"input shape {shape} for '{name}' has a negative dimension", source)
    if tt.HasField("shape") and len(tt.shape.dim) != len(shape):
        raise InputShapeError(
            f"input '{name}' has rank {len(tt.shape.dim)}, but the given shape {shape} has rank "
            f"{len(shape)}",
            source,
        )
    if not tt.HasField("shape"):
        tt.shape.SetInParent()
        for _ in shape:
            tt.shape.dim.add()
    for i, (d, size) in enumerate(zip(tt.shape.dim, shape)):
        if d.HasField("dim_value"):
            if d.dim_value != size:
                raise InputShapeError(
                    f"input '{name}' has size {d.dim_value} in dimension {i}, but the given shape "
                    f"says {size}",
                    source,
                )
            continue
        if d.dim_param:
            bound = bindings.setdefault(d.dim_param, size)
            if bound != size:
                raise InputShapeError(
                    f"dimension '{d.dim_param}' is given as both {bound} and {size}", source
                )
        d.dim_value = size


def check_and_infer(slim: onnx.ModelProto, source: str) -> onnx.ModelProto:
    """Run the ONNX checker and strict shape inference (with data propagation) on ``slim``."""
    try:
        onnx.checker.check_model(slim)
    except onnx.checker.ValidationError as exc:
        raise OnnxImportError(f"invalid ONNX model: {_first_line(exc)}", source) from None
    except UnicodeDecodeError as exc:  # a name or string field holding bytes that are not UTF-8
        raise OnnxImportError(
            f"invalid ONNX model: a string is not valid UTF-8 ({exc.reason} at byte {exc.start})",
            source,
        ) from None
    try:
        return onnx.shape_inference.infer_shapes(
            slim, check_type=True, strict_mode=True, data_prop=True
        )
    except (onnx.shape_inference.InferenceError, RuntimeError, ValueError) as exc:
        raise OnnxImportError(f"ONNX shape inference failed: {_first_line(exc)}", source) from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def value_types(inferred: onnx.ModelProto, source: str) -> dict:
    """Name -> IR tensor type (or None when the rank is unknown) for every typed value."""
    graph = inferred.graph
    types = {}
    for value in [*graph.value_info, *graph.input, *graph.output]:
        types[value.name] = tensor_type(value.type, f"value '{value.name}'")
    return types


def reinfer(inferred: onnx.ModelProto, types: dict, source: str) -> dict:
    """Run inference again with ``types`` (name -> IR type, from the importer) as value infos, so
    that ranks the importer found reach the nodes downstream; returns the merged types (the
    importer's own static types win)."""
    from .onnx_types import onnx_element_type

    graph = inferred.graph
    fixed = {v.name for v in [*graph.input, *graph.output]} | {t.name for t in graph.initializer}
    del graph.value_info[:]
    for name, t in types.items():
        if t is None or name in fixed:
            continue
        dims = [d if d is not None else None for d in t.shape]
        graph.value_info.append(
            helper.make_tensor_value_info(name, onnx_element_type(t.element_type), dims)
        )
    try:
        again = onnx.shape_inference.infer_shapes(
            inferred, check_type=True, strict_mode=True, data_prop=True
        )
    except (onnx.shape_inference.InferenceError, RuntimeError) as exc:
        raise OnnxImportError(f"ONNX shape inference failed: {_first_line(exc)}", source) from None
    merged = value_types(again, source)
    for name, t in types.items():
        if t is not None and (merged.get(name) is None or t.is_static):
            merged[name] = t
    return merged
