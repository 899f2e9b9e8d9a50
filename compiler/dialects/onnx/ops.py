"""The ``onnx`` dialect's op classes.

``onnx.Constant`` and ``onnx.NoValue`` are written by hand; every other op type the dialect lists
(``ONNX_OP_TYPES`` in __init__.py) is generated at import time from its ``onnx.defs`` schemas (see
generate.py). All of them
share :class:`OnnxOp`, whose verifier checks an op against the schema in force at the module's
opset (the ``onnx.opset`` attribute of the enclosing ``builtin.module``) and whose folding hook
evaluates ops with constant operands through the kernel library (runtime/kernels/onnx).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from imcc.runtime.kernels.onnx import KernelContext, KernelError, kernel_for
from onnx import AttributeProto as _A

from ...ir.attributes import (
    ArrayAttr,
    Attribute,
    DenseElementsAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
)
from ...ir.builtin import ModuleOp
from ...ir.core import Operation, Value
from ...ir.diagnostics import Location, NameLoc, VerificationError
from ...ir.ops import (
    CONSTANT_MATERIALIZERS,
    AttrDef,
    ConstantLike,
    IROp,
    Pure,
    ResultDef,
    tensor_type,
)
from ...ir.types import NoneType, RankedTensorType, Type, numpy_dtype
from .schema import NEWEST_OPSET, Param, Signature, signature

#: The module attribute recording the opset a module was imported at.
OPSET_ATTR = "onnx.opset"

#: Folding never creates a constant larger than this many elements unless its inputs were as large
#: (folding a weight transpose is useful, materialising a big Expand is not).
FOLD_LIMIT = 1 << 16

#: Ops whose result depends only on the operand's type, so they fold when the type is static.
_TYPE_ONLY_OPS = frozenset({"Shape", "Size"})


def module_opset(op: Operation) -> int:
    """The opset of the module holding ``op``; the newest opset for IR written without one."""
    parent = op
    while parent is not None:
        if isinstance(parent, ModuleOp):
            value = parent.attributes.get(OPSET_ATTR)
            if isinstance(value, IntegerAttr):
                return value.int_value
        parent = parent.parent_op
    return NEWEST_OPSET


def set_module_opset(module: ModuleOp, opset: int) -> None:
    """Record the opset ``module`` was imported at."""
    module.attributes[OPSET_ATTR] = IntegerAttr(int(opset))


# --- attribute values ---------------------------------------------------------------------------


def to_attribute(value, onnx_type: int) -> Attribute:
    """The IR attribute holding a plain attribute value (see attribute_values.py) of ONNX type
    ``onnx_type``. Raises ValueError for tensors of element types the IR cannot hold."""
    if onnx_type == _A.INT:
        return IntegerAttr(int(value))
    if onnx_type == _A.FLOAT:
        return FloatAttr(float(value))
    if onnx_type == _A.STRING:
        return StringAttr(str(value))
    if onnx_type == _A.INTS:
        return ArrayAttr(tuple(IntegerAttr(int(v)) for v in value))
    if onnx_type == _A.FLOATS:
        return ArrayAttr(tuple(FloatAttr(float(v)) for v in value))
    if onnx_type == _A.STRINGS:
        return ArrayAttr(tuple(StringAttr(str(v)) for v in value))
    if onnx_type in (_A.TENSOR, _A.SPARSE_TENSOR):
        return DenseElementsAttr.from_array(np.asarray(value))
    raise ValueError(f"attribute type {_A.AttributeType.Name(onnx_type)} has no IR form")


def plain_attributes(op: Operation) -> dict:
    """The op's ONNX attributes as the plain Python/numpy values kernels take (discardable
    ``dialect.name`` attributes added by passes are left out)."""
    return {k: v.value for k, v in op.attributes.items() if "." not in k}


# --- the shared base class ----------------------------------------------------------------------


class OnnxOp(IROp):
    """Base class of the generated ONNX ops; ``op_type`` is the ONNX name (``Conv``)."""

    op_type: ClassVar[str] = ""
    #: Set per op type by patterns.attach.
    _canonicalization_patterns: ClassVar[tuple] = ()

    @classmethod
    def canonicalization_patterns(cls) -> list:
        return list(cls._canonicalization_patterns)

    @property
    def opset(self) -> int:
        return module_opset(self)

    def signature(self) -> Signature:
        sig = signature(self.op_type, self.opset)
        if sig is None:
            raise VerificationError(
                f"'{self.name}' does not exist at opset {self.opset}", self.location
            )
        return sig

    def verify_structure(self) -> None:
        """Check operands, results and attributes against the schema in force at the module's
        opset: counts, absent (``none``) values only where optional, element types allowed by the
        type constraints and shared between values of one type variable, attribute names and
        kinds."""
        sig = self.signature()
        where = f"'{self.name}' (opset {self.opset})"
        _check_values(self, sig.inputs, self.operands, sig.min_input, "operand", where)
        _check_values(self, sig.outputs, self.results, sig.min_output, "result", where)
        for name, spec in sig.attrs.items():
            if spec.required and name not in self.attributes:
                raise VerificationError(f"{where} requires attribute '{name}'", self.location)
        for key, value in self.attributes.items():
            if "." in key:
                continue  # discardable attributes added by passes
            spec = sig.attrs.get(key)
            if spec is None:
                raise VerificationError(f"{where} has unknown attribute '{key}'", self.location)
            if not isinstance(value, spec.kind):
                raise VerificationError(
                    f"{where} attribute '{key}' must be {spec.kind.__name__}, "
                    f"got {type(value).__name__}",
                    self.location,
                )
        if self.regions:
            raise VerificationError(f"{where} takes no regions", self.location)

    def fold(self, operand_constants: list[Attribute | None]) -> list[Attribute] | None:
        """Evaluate the op with its kernel when every present operand is a constant (or, for
        Shape and Size, has a static type). Ops with absent results are left alone."""
        if not self.has_trait(Pure) or not _folds_fully(self):
            return None
        inputs = _constant_inputs(self, operand_constants)
        if inputs is None:
            return None
        limit = max(FOLD_LIMIT, sum(x.size for x in inputs if x is not None))
        if any(r.type.num_elements > limit for r in self.results):
            return None
        try:
            kernel = kernel_for(self.op_type, self.opset)
            ctx = KernelContext(opset=self.opset, num_outputs=len(self.results))
            outputs = kernel(inputs, plain_attributes(self), ctx)
        except KernelError:
            return None  # not foldable here; running it will report the problem
        folded = []
        for result, out in zip(self.results, outputs):
            if out.dtype != numpy_dtype(result.type.element_type) or out.shape != result.type.shape:
                return None  # the IR type disagrees with the kernel; the verifier's concern
            folded.append(DenseElementsAttr.from_array(out))
        return folded


def _folds_fully(op: OnnxOp) -> bool:
    # Folding needs every result to be a static tensor (absent results cannot be materialized).
    return bool(op.results) and all(
        isinstance(r.type, RankedTensorType) and r.type.is_static for r in op.results
    )


def _constant_inputs(op: OnnxOp, consts: list[Attribute | None]) -> list | None:
    inputs: list[np.ndarray | None] = []
    for i, (value, const) in enumerate(zip(op.operands, consts)):
        t = value.type
        if isinstance(t, NoneType):
            inputs.append(None)
        elif isinstance(const, DenseElementsAttr):
            inputs.append(const.array)
        elif i == 0 and op.op_type in _TYPE_ONLY_OPS and t.is_static:
            # A zero-stride view has the right shape and type without any data.
            inputs.append(np.broadcast_to(np.zeros((), numpy_dtype(t.element_type)), t.shape))
        else:
            return None
    return inputs


def _check_values(op, params: tuple[Param, ...], values, minimum: int, what: str, where: str):
    variadic = bool(params) and params[-1].variadic
    fixed = len(params) - (1 if variadic else 0)
    count = len(values)
    if variadic:
        if count < max(fixed, minimum):
            raise VerificationError(
                f"{where} expects at least {max(fixed, minimum)} {what}(s), got {count}",
                op.location,
            )
    elif count != len(params):
        raise VerificationError(
            f"{where} expects {len(params)} {what}(s) (absent optional ones as 'none'), got {count}",
            op.location,
        )
    bound: dict[str, str] = {}
    for i, value in enumerate(values):
        param = params[min(i, len(params) - 1)]
        t = value.type
        if isinstance(t, NoneType):
            if not param.optional:
                raise VerificationError(
                    f"{where} {what} #{i} ('{param.name}') is required but absent", op.location
                )
            continue
        if not isinstance(t, RankedTensorType):
            raise VerificationError(
                f"{where} {what} #{i} ('{param.name}') must be a ranked tensor, got {t}",
                op.location,
            )
        element = str(t.element_type)
        if param.types and element not in param.types:
            allowed = ", ".join(sorted(param.types))
            raise VerificationError(
                f"{where} {what} #{i} ('{param.name}') has element type {element}; "
                f"allowed: {allowed}",
                op.location,
            )
        if param.type_param and (param.homogeneous or not param.variadic):
            first = bound.setdefault(param.type_param, element)
            if first != element:
                raise VerificationError(
                    f"{where} {what} #{i} ('{param.name}') has element type {element}, but "
                    f"type variable {param.type_param} is already {first}",
                    op.location,
                )
    # Inputs and outputs share type variables, so results are checked against the operands'
    # bindings too.
    if what == "result":
        operand_bindings = _bindings(op.signature().inputs, op.operands)
        for i, value in enumerate(values):
            param = params[min(i, len(params) - 1)]
            if isinstance(value.type, NoneType) or not param.type_param:
                continue
            want = operand_bindings.get(param.type_param)
            got = str(value.type.element_type)
            if want is not None and want != got:
                raise VerificationError(
                    f"{where} result #{i} ('{param.name}') has element type {got}, but the "
                    f"operands bind {param.type_param} to {want}",
                    op.location,
                )


def _bindings(params: tuple[Param, ...], values) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, value in enumerate(values):
        param = params[min(i, len(params) - 1)]
        if param.type_param and isinstance(value.type, RankedTensorType):
            out.setdefault(param.type_param, str(value.type.element_type))
    return out


# --- hand-written ops ---------------------------------------------------------------------------


class ConstantOp(IROp):
    """A constant tensor. Every ONNX form of Constant (``value``, ``value_float(s)``,
    ``value_int(s)``, ``sparse_value``) and every initializer imports as this one form.

    Example:
        %0 = "onnx.Constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    """

    name = "onnx.Constant"
    op_type: ClassVar[str] = "Constant"
    result_defs = (ResultDef("output", tensor_type),)
    attr_defs = (AttrDef("value", DenseElementsAttr, required=True),)
    traits = frozenset({Pure, ConstantLike})

    @staticmethod
    def build(value: DenseElementsAttr, location: Location) -> ConstantOp:
        return ConstantOp.create(
            result_types=[value.type], attributes={"value": value}, location=location
        )

    def verify_(self) -> None:
        value = self.attributes["value"]
        if value.type != self.results[0].type:
            raise VerificationError(
                f"'onnx.Constant' value type {value.type} does not match result type "
                f"{self.results[0].type}",
                self.location,
            )


def _is_none(t: Type) -> bool:
    return isinstance(t, NoneType)


_is_none.description = "none"


class NoValueOp(IROp):
    """The absent value: an omitted optional ONNX input is this op's ``none`` result.

    Example:
        %0 = "onnx.NoValue"() : () -> none
    """

    name = "onnx.NoValue"
    op_type: ClassVar[str] = "NoValue"
    result_defs = (ResultDef("none", _is_none),)
    traits = frozenset({Pure})


def materialize_constant(value: Attribute, t: Type, location: Location) -> ConstantOp:
    """Make the constant op folding needs; folded tensors are named after the op they replace."""
    if (
        isinstance(value, DenseElementsAttr)
        and value.hint is None
        and isinstance(location, NameLoc)
    ):
        value = DenseElementsAttr(value.array, value.type, location.name)
    return ConstantOp.create(result_types=[t], attributes={"value": value}, location=location)


CONSTANT_MATERIALIZERS["onnx"] = materialize_constant


def is_absent(value: Value) -> bool:
    """Whether ``value`` stands for an omitted optional input or output."""
    return isinstance(value.type, NoneType)
