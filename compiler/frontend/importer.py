"""ONNX ModelProto -> a module of the onnx dialect.

The result is one ``func.func @main`` whose arguments are the graph inputs (attribute
``arg_names``) and whose results are the graph outputs (``result_names``); the module records the
opset in ``onnx.opset``. Initializers become ``onnx.Constant`` ops named after the initializer (the
name becomes the resource name when the tensor is printed); graph inputs that are also initializers
are constants, not arguments. Every op is located at ``NameLoc(node name)`` (or ``OpType_index``
for unnamed nodes).

The steps, in order: read the model (loader.py), bring old opsets to 9 (loader.py), refuse
unsupported nodes, run the checker and strict shape inference on a slim copy with the inputs'
symbolic dimensions pinned (shapes.py), then build the IR node by node. Nodes needing special
handling at import have a function in :data:`SPECIAL_IMPORTERS` (one file per op family).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import onnx
from imcc.runtime.kernels.onnx import UnsupportedOp, kernel_for

from ..dialects.func import FuncOp, ReturnOp
from ..dialects.onnx import (
    ONNX_OPS,
    ConstantOp,
    NoValueOp,
    set_module_opset,
    signature,
    to_attribute,
)
from ..dialects.onnx.attribute_values import AttributeSchemaError, node_attributes
from ..dialects.onnx.schema import Signature
from ..ir.attributes import ArrayAttr, DenseElementsAttr, StringAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Block, Operation, Value
from ..ir.diagnostics import NameLoc
from ..ir.types import NoneType, RankedTensorType, Type, none
from .constant import import_constant
from .errors import OnnxImportError, UnsupportedError, UnsupportedOpError
from .loader import LoadedModel, Notes, normalize_opset, read_model, tensor_array
from .shapes import check_and_infer, pin_input_shapes, real_inputs, reinfer, slim_model, value_types
from .support import find_unsupported, node_name
from .type_refine import TypeRefiner

#: Op types imported by their own function instead of the generic schema-driven path:
#: ``fn(node, name, location, loaded model) -> op``; the importer appends the op and binds the
#: node's outputs to its results.
SPECIAL_IMPORTERS: dict[str, Callable] = {"Constant": import_constant}


def stderr_notes(message: str) -> None:
    """Print an importer note on stderr (the default for ``notes``)."""
    print(f"imcc: note: {message}", file=sys.stderr)


def import_model(
    model,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    *,
    base_dir: str | None = None,
    notes: Notes | None = stderr_notes,
) -> ModuleOp:
    """Import an ONNX model (a path, bytes or a ModelProto) into a module of the onnx dialect.

    ``input_shapes`` pins inputs' symbolic dimensions (``{"input": (1, 3, 224, 224)}``); a leading
    symbolic dimension not pinned is taken as 1 and reported through ``notes`` (None: silent).
    Raises OnnxImportError for unreadable or invalid models and UnsupportedError (with
    UnsupportedOpError for nodes) for valid models using what imcc does not support.
    """
    loaded = read_model(model, base_dir)
    return import_loaded(loaded, input_shapes, notes or (lambda message: None))


def import_loaded(loaded: LoadedModel, input_shapes, notes: Notes) -> ModuleOp:
    """Import an already parsed model (see :func:`import_model`)."""
    opset = normalize_opset(loaded, notes, lambda v: _kernel_objection(loaded.model.graph, v))
    graph = loaded.model.graph
    problems = find_unsupported(graph, opset)
    if problems:
        first = problems[0]
        more = (
            f" (and {len(problems) - 1} more; 'imcc --coverage' lists them)"
            if len(problems) > 1
            else ""
        )
        raise UnsupportedOpError(
            first.op_type, first.node_name, opset, first.reason + more, loaded.source
        )
    if graph.sparse_initializer:
        raise UnsupportedError("sparse initializers are not supported", loaded.source)
    slim = slim_model(loaded.model)
    pin_input_shapes(
        slim.graph, input_shapes, notes, loaded.source, [v.name for v in real_inputs(graph)]
    )
    inferred = check_and_infer(slim, loaded.source)
    return GraphImporter(loaded, opset, inferred).run()


def _kernel_objection(graph: onnx.GraphProto, opset: int) -> str | None:
    for node in graph.node:
        try:
            kernel_for(node.op_type, opset)
        except UnsupportedOp as exc:
            return str(exc)
    return None


class GraphImporter:
    """Builds the IR of one graph; ``values`` maps ONNX value names to IR values."""

    def __init__(self, loaded: LoadedModel, opset: int, inferred: onnx.ModelProto):
        self.loaded = loaded
        self.source = loaded.source
        self.graph = loaded.model.graph
        self.opset = opset
        #: The slim, shape-inferred model (see shapes.py) and the types it gives.
        self.inferred = inferred
        self.types: dict[str, RankedTensorType | None] = value_types(inferred, loaded.source)
        self.values: dict[str, Value] = {}
        self.block: Block | None = None
        self._no_value: Value | None = None
        self._initializers: dict[str, np.ndarray] = {}
        self.refiner = TypeRefiner(self.graph, opset, self.types, self._initializers.get)

    # -- building blocks ---------------------------------------------------------------------------
    def append(self, op: Operation) -> Operation:
        self.block.append(op)
        return op

    def bind(self, name: str, value: Value) -> None:
        if name:
            self.values[name] = value

    def value(self, name: str, user: str) -> Value:
        value = self.values.get(name)
        if value is None:
            raise OnnxImportError(
                f"node '{user}' uses value '{name}', which is never defined", self.source
            )
        return value

    def no_value(self) -> Value:
        """The function's one ``none`` value, created where it is first needed."""
        if self._no_value is None:
            op = NoValueOp.create(result_types=[none], location=NameLoc("none"))
            self._no_value = self.append(op).results[0]
        return self._no_value

    def type_of(self, name: str, producer: str) -> Type:
        t = self.types.get(name)
        if t is None:
            raise UnsupportedError(
                f"the rank of '{name}' (produced by node '{producer}') could not be inferred, and "
                "imcc needs ranked tensors; give static input shapes (--input-shape / input_shapes)",
                self.source,
            )
        return t

    # -- the graph ---------------------------------------------------------------------------------
    def run(self) -> ModuleOp:
        inputs = real_inputs(self.graph)
        arg_types = [self.type_of(v.name, "graph input") for v in inputs]
        func = FuncOp.build("main", arg_types, [], NameLoc(self.graph.name or "main"))
        self.block = func.body
        for value, arg in zip(inputs, func.body.args):
            self.bind(value.name, arg)
        self.import_initializers()
        for index, node in enumerate(self.graph.node):
            self.import_node(node, index)
        outputs = [self.value(v.name, "graph output") for v in self.graph.output]
        self.append(ReturnOp.create(outputs, location=NameLoc("return")))
        func.update_function_type()
        func.attributes["arg_names"] = _names(v.name for v in inputs)
        func.attributes["result_names"] = _names(v.name for v in self.graph.output)
        module = ModuleOp.build([func], NameLoc(self.source))
        set_module_opset(module, self.opset)
        return module

    def import_initializers(self) -> None:
        for tensor in self.graph.initializer:
            array = tensor_array(tensor, f"initializer '{tensor.name}'", self.loaded)
            self._initializers[tensor.name] = array
            value = DenseElementsAttr.from_array(array, hint=tensor.name)
            op = self.append(ConstantOp.build(value, NameLoc(tensor.name)))
            self.bind(tensor.name, op.results[0])

    def import_node(self, node: onnx.NodeProto, index: int) -> None:
        name = node_name(node, index)
        loc = NameLoc(name)
        special = SPECIAL_IMPORTERS.get(node.op_type)
        if special is not None:
            op = self.append(special(node, name, loc, self.loaded))
            for value_name, result in zip(node.output, op.results):
                self.bind(value_name, result)
            return
        sig = signature(node.op_type, self.opset)
        if self.refiner.refine(node):
            self.types.update(reinfer(self.inferred, self.types, self.source))
        operands = [self.value(v, name) if v else self.no_value() for v in node.input]
        variadic_in = bool(sig.inputs) and sig.inputs[-1].variadic
        if not variadic_in:
            operands += [self.no_value() for _ in range(len(sig.inputs) - len(operands))]
        op = ONNX_OPS[node.op_type].create(
            operands,
            self.result_types(node, sig, name),
            self.attributes(node, sig, name),
            location=loc,
        )
        self.append(op)
        for value_name, result in zip(node.output, op.results):
            self.bind(value_name, result)

    def result_types(self, node: onnx.NodeProto, sig: Signature, name: str) -> list[Type]:
        variadic_out = bool(sig.outputs) and sig.outputs[-1].variadic
        count = len(node.output) if variadic_out else len(sig.outputs)
        names = list(node.output) + [""] * (count - len(node.output))
        return [self.type_of(n, name) if n else NoneType() for n in names]

    def attributes(self, node: onnx.NodeProto, sig: Signature, name: str) -> dict:
        try:
            plain = node_attributes(node, self.opset)
        except AttributeSchemaError as exc:
            raise OnnxImportError(f"node '{name}': {exc}", self.source, NameLoc(name)) from None
        attrs = {}
        for key, value in plain.items():
            spec = sig.attrs.get(key)
            if spec is None:
                raise UnsupportedError(
                    f"node '{name}': attribute '{key}' has no IR form", self.source
                )
            try:
                attrs[key] = to_attribute(value, spec.onnx_type)
            except ValueError as exc:
                raise UnsupportedError(
                    f"node '{name}' attribute '{key}': {exc}", self.source
                ) from None
        return attrs


def _names(names) -> ArrayAttr:
    return ArrayAttr(tuple(StringAttr(n) for n in names))


__all__ = ["GraphImporter", "import_loaded", "import_model", "stderr_notes"]
