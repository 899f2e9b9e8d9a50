"""The ``func`` dialect: functions and returns."""

from __future__ import annotations

from ..ir.attributes import StringAttr, TypeAttr
from ..ir.core import Block, Region, Value
from ..ir.diagnostics import UNKNOWN_LOC, Location, VerificationError
from ..ir.ops import AttrDef, IROp, IsolatedFromAbove, OperandDef, Pure, Terminator
from ..ir.types import FunctionType, Type


class FuncOp(IROp):
    """A function: one region whose entry block's arguments are the function's inputs and whose
    last op is ``func.return``. Attributes: ``sym_name`` and ``function_type``; imported models also
    carry ``arg_names``/``result_names`` (the ONNX graph input and output names).

    Example:
        "func.func"() ({
        ^bb0(%arg0: tensor<4xf32>):
          "func.return"(%arg0) : (tensor<4xf32>) -> ()
        }) {function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "main"} : () -> ()
    """

    name = "func.func"
    num_regions = 1
    traits = frozenset({IsolatedFromAbove})
    attr_defs = (
        AttrDef("sym_name", StringAttr, required=True),
        AttrDef("function_type", TypeAttr, required=True),
    )
    allow_undeclared_attrs = True

    @staticmethod
    def build(
        name: str, inputs: list[Type], results: list[Type], location: Location = UNKNOWN_LOC
    ) -> FuncOp:
        """An empty function whose entry block has one argument per input."""
        block = Block(inputs)
        ftype = FunctionType(tuple(inputs), tuple(results))
        return FuncOp.create(
            attributes={"sym_name": StringAttr(name), "function_type": TypeAttr(ftype)},
            regions=[Region([block])],
            location=location,
        )

    @property
    def sym_name(self) -> str:
        return self.get_attr("sym_name")

    @property
    def function_type(self) -> FunctionType:
        return self.get_attr("function_type")

    @property
    def body(self) -> Block:
        return self.regions[0].blocks[0]

    @property
    def args(self) -> list[Value]:
        return list(self.body.args)

    def return_op(self) -> ReturnOp:
        return self.body.ops[-1]

    def update_function_type(self) -> None:
        """Recompute ``function_type`` from the entry block arguments and the return operands."""
        ftype = FunctionType(
            tuple(a.type for a in self.body.args),
            tuple(v.type for v in self.return_op().operands),
        )
        self.attributes["function_type"] = TypeAttr(ftype)

    def verify_(self) -> None:
        ftype = self.function_type
        if not isinstance(ftype, FunctionType):
            raise VerificationError(
                "'func.func' function_type must be a function type", self.location
            )
        if not self.regions[0].blocks:
            raise VerificationError("'func.func' needs a body", self.location)
        arg_types = tuple(a.type for a in self.body.args)
        if arg_types != ftype.inputs:
            raise VerificationError(
                f"'func.func' entry block arguments {_types(arg_types)} do not match the "
                f"function type inputs {_types(ftype.inputs)}",
                self.location,
            )
        for block in self.regions[0].blocks:
            last = block.terminator
            if last is None or not last.has_trait(Terminator):
                raise VerificationError(
                    f"block in function '{self.sym_name}' must end with a terminator", self.location
                )
        ret = self.return_op()
        if isinstance(ret, ReturnOp):
            types = tuple(v.type for v in ret.operands)
            if types != ftype.results:
                raise VerificationError(
                    f"'func.return' returns {_types(types)} but function '{self.sym_name}' "
                    f"declares {_types(ftype.results)}",
                    ret.location,
                )


class ReturnOp(IROp):
    """Return values from a function; the terminator of its body.

    Example:
        "func.return"(%0) : (tensor<4xf32>) -> ()
    """

    name = "func.return"
    operand_defs = (OperandDef("values", variadic=True),)
    traits = frozenset({Terminator, Pure})

    def verify_(self) -> None:
        if not isinstance(self.parent_op, FuncOp):
            raise VerificationError("'func.return' must be inside a 'func.func'", self.location)


def _types(types) -> str:
    return "(" + ", ".join(str(t) for t in types) + ")"
