"""The ``builtin`` dialect: the module op that holds everything else."""

from __future__ import annotations

from .core import Block, Operation, Region
from .diagnostics import UNKNOWN_LOC, Location, VerificationError
from .ops import IROp, IsolatedFromAbove, NoTerminator, SymbolTable


class ModuleOp(IROp):
    """The top-level container: one region with one block of ops (usually ``func.func``) and no
    terminator. Names of symbols defined directly inside must be unique.

    Example:
        "builtin.module"() ({
        }) : () -> ()
    """

    name = "builtin.module"
    num_regions = 1
    traits = frozenset({IsolatedFromAbove, NoTerminator, SymbolTable})
    allow_undeclared_attrs = True

    @staticmethod
    def build(ops: list[Operation] = (), location: Location = UNKNOWN_LOC) -> ModuleOp:
        block = Block()
        for op in ops:
            block.append(op)
        return ModuleOp.create(regions=[Region([block])], location=location)

    @property
    def body(self) -> Block:
        return self.regions[0].block

    def lookup_symbol(self, name: str) -> Operation | None:
        for op in self.body.ops:
            if op.get_attr("sym_name") == name:
                return op
        return None

    def verify_(self) -> None:
        if len(self.regions[0].blocks) != 1:
            raise VerificationError("'builtin.module' must have exactly one block", self.location)
        if self.body.args:
            raise VerificationError("'builtin.module' block takes no arguments", self.location)
        seen: set[str] = set()
        for op in self.body.ops:
            sym = op.get_attr("sym_name")
            if sym is None:
                continue
            if sym in seen:
                raise VerificationError(f"redefinition of symbol '{sym}'", op.location)
            seen.add(sym)
