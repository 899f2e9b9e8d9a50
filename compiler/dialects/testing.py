"""The ``test`` dialect: tiny ops that exercise the IR core, passes and printer in golden tests
(like MLIR's test dialect). Not used by the compiler pipeline."""

from __future__ import annotations

import numpy as np

from ..ir.attributes import Attribute, DenseElementsAttr
from ..ir.diagnostics import Location, VerificationError
from ..ir.ops import (
    CONSTANT_MATERIALIZERS,
    AttrDef,
    Commutative,
    ConstantLike,
    IROp,
    OperandDef,
    Pure,
    ResultDef,
    Terminator,
    tensor_type,
)
from ..ir.types import Type


class ConstantOp(IROp):
    """A constant tensor.

    Example:
        %0 = "test.constant"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<2xf32>
    """

    name = "test.constant"
    result_defs = (ResultDef("out", tensor_type),)
    attr_defs = (AttrDef("value", DenseElementsAttr, required=True),)
    traits = frozenset({Pure, ConstantLike})

    def verify_(self) -> None:
        if self.attributes["value"].type != self.results[0].type:
            raise VerificationError(
                f"'test.constant' value type {self.attributes['value'].type} does not match "
                f"result type {self.results[0].type}",
                self.location,
            )


class AddOp(IROp):
    """Elementwise addition of two tensors of the same type; folds when both are constants.

    Example:
        %2 = "test.add"(%0, %1) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    """

    name = "test.add"
    operand_defs = (OperandDef("lhs", tensor_type), OperandDef("rhs", tensor_type))
    result_defs = (ResultDef("out", tensor_type),)
    traits = frozenset({Pure, Commutative})

    def verify_(self) -> None:
        types = {self.operands[0].type, self.operands[1].type, self.results[0].type}
        if len(types) != 1:
            raise VerificationError(
                "'test.add' operands and result must have one type", self.location
            )

    def fold(self, consts: list[Attribute | None]):
        if any(c is None for c in consts):
            return None
        return [DenseElementsAttr.from_array(np.add(consts[0].array, consts[1].array))]


class EffectOp(IROp):
    """An op with side effects: never removed or merged.

    Example:
        "test.effect"(%0) : (tensor<2xf32>) -> ()
    """

    name = "test.effect"
    operand_defs = (OperandDef("inputs", variadic=True),)


class WrapOp(IROp):
    """An op with one region (not isolated from above) ending in ``test.yield``.

    Example:
        %1 = "test.wrap"() ({
          "test.yield"(%0) : (tensor<2xf32>) -> ()
        }) : () -> tensor<2xf32>
    """

    name = "test.wrap"
    result_defs = (ResultDef("outs", variadic=True),)
    num_regions = 1


class YieldOp(IROp):
    """Terminator of ``test.wrap``.

    Example:
        "test.yield"(%0) : (tensor<2xf32>) -> ()
    """

    name = "test.yield"
    operand_defs = (OperandDef("values", variadic=True),)
    traits = frozenset({Terminator, Pure})


def _materialize(value: Attribute, t: Type, loc: Location) -> ConstantOp:
    return ConstantOp.create(result_types=[t], attributes={"value": value}, location=loc)


CONSTANT_MATERIALIZERS["test"] = _materialize
