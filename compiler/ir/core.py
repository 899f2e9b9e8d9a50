"""The dialect-agnostic IR: values, operations, blocks and regions.

An :class:`Operation` has a name (``dialect.op``), operands (values it uses), results (values it
defines), attributes, regions and a location. A :class:`Block` is an ordered list of operations with
block arguments; a :class:`Region` is a list of blocks. Use lists are maintained by the core: setting
an operand records a :class:`Use` on the value, so ``value.uses`` is always exact.

Dialect op classes (see ops.py) subclass :class:`Operation`; code that does not know a dialect works
on the generic interface only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .attributes import Attribute
from .diagnostics import UNKNOWN_LOC, Location
from .types import Type


@dataclass(eq=False)
class Use:
    """One use of a value: operand ``index`` of ``operation``."""

    operation: Operation
    index: int


class Value:
    """An SSA value. ``name_hint`` is only a printing suggestion."""

    def __init__(self, type: Type, name_hint: str | None = None):
        self.type = type
        self.uses: list[Use] = []
        self.name_hint = name_hint

    @property
    def owner(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def has_uses(self) -> bool:
        return bool(self.uses)

    def users(self) -> list[Operation]:
        """The operations using this value, each once, in use order."""
        seen: dict[int, Operation] = {}
        for use in self.uses:
            seen.setdefault(id(use.operation), use.operation)
        return list(seen.values())

    def replace_all_uses_with(self, other: Value) -> None:
        """Make every user of this value use ``other`` instead."""
        if other is self:
            return
        for use in list(self.uses):
            use.operation.set_operand(use.index, other)

    def _remove_use(self, op: Operation, index: int) -> None:
        for i, use in enumerate(self.uses):
            if use.operation is op and use.index == index:
                del self.uses[i]
                return
        raise AssertionError("use list out of sync")  # pragma: no cover


class OpResult(Value):
    """Result ``index`` of operation ``op``."""

    def __init__(self, type: Type, op: Operation, index: int):
        super().__init__(type)
        self.op = op
        self.index = index

    @property
    def owner(self) -> Operation:
        return self.op


class BlockArgument(Value):
    """Argument ``index`` of ``block``."""

    def __init__(self, type: Type, block: Block, index: int):
        super().__init__(type)
        self.block = block
        self.index = index

    @property
    def owner(self) -> Block:
        return self.block


class Operation:
    """A generic operation. Dialect op classes subclass this and set ``name``.

    Construct ops through their class (``AddOp.create(...)`` in dialects) or generically with
    :meth:`Operation.build`.
    """

    name: str = ""
    #: Traits (:class:`~ops.Trait` subclasses from ops.py: ``Pure``, ``Terminator``, ...) declared
    #: by the op class.
    traits: frozenset = frozenset()

    def __init__(
        self,
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        attributes: dict[str, Attribute] | None = None,
        regions: Sequence[Region] = (),
        location: Location = UNKNOWN_LOC,
        name: str | None = None,
    ):
        if name is not None:
            self.name = name
        self.parent: Block | None = None
        self._slot = 0  # where the op last was in its block: Block.index_of looks there first
        self._operands: list[Value] = []
        for value in operands:
            self._append_operand(value)
        self.results = [OpResult(t, self, i) for i, t in enumerate(result_types)]
        self.attributes: dict[str, Attribute] = dict(attributes or {})
        self.regions: list[Region] = []
        for region in regions:
            self.add_region(region)
        self.location = location

    # -- operands ---------------------------------------------------------------------------------
    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def _append_operand(self, value: Value) -> None:
        if not isinstance(value, Value):
            raise TypeError(f"operand of {self.name} must be a Value, got {type(value).__name__}")
        value.uses.append(Use(self, len(self._operands)))
        self._operands.append(value)

    def set_operand(self, index: int, value: Value) -> None:
        """Replace operand ``index``, keeping both values' use lists exact."""
        old = self._operands[index]
        old._remove_use(self, index)
        self._operands[index] = value
        value.uses.append(Use(self, index))

    def set_operands(self, values: Sequence[Value]) -> None:
        """Replace the whole operand list."""
        self._drop_operand_uses()
        self._operands = []
        for value in values:
            self._append_operand(value)

    def _drop_operand_uses(self) -> None:
        for i, value in enumerate(self._operands):
            value._remove_use(self, i)

    # -- results ----------------------------------------------------------------------------------
    @property
    def result(self) -> OpResult:
        """The single result (error if the op has not exactly one)."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not 1")
        return self.results[0]

    @property
    def result_types(self) -> list[Type]:
        return [r.type for r in self.results]

    # -- regions ----------------------------------------------------------------------------------
    def add_region(self, region: Region) -> None:
        if region.parent is not None:
            raise ValueError("region already belongs to an operation")
        region.parent = self
        self.regions.append(region)

    def walk(self) -> Iterator[Operation]:
        """This op and every op nested in its regions, pre-order."""
        yield self
        for region in self.regions:
            for block in region.blocks:
                for op in list(block.ops):
                    yield from op.walk()

    # -- placement --------------------------------------------------------------------------------
    @property
    def parent_op(self) -> Operation | None:
        block = self.parent
        region = block.parent if block else None
        return region.parent if region else None

    def detach(self) -> Operation:
        """Remove from the parent block without dropping uses."""
        if self.parent is not None:
            self.parent.remove(self)
        return self

    def erase(self) -> None:
        """Remove from the parent block and drop all operand uses. Results must be unused."""
        for r in self.results:
            if r.uses:
                users = ", ".join(sorted({u.operation.name for u in r.uses}))
                raise ValueError(f"cannot erase {self.name}: result still used by {users}")
        self.drop_all_references()
        self.detach()

    def drop_all_references(self) -> None:
        """Drop operand uses here and in nested regions (before erasing a whole subtree)."""
        self._drop_operand_uses()
        self._operands = []
        for region in self.regions:
            for block in region.blocks:
                for op in block.ops:
                    op.drop_all_references()

    # -- traits and attributes --------------------------------------------------------------------
    @classmethod
    def has_trait(cls, trait) -> bool:
        return trait in cls.traits

    def get_attr(self, key: str, default=None):
        """The Python value of attribute ``key`` (or ``default`` if absent)."""
        a = self.attributes.get(key)
        return default if a is None else a.value

    def __repr__(self) -> str:
        return f"<{self.name} at {self.location.describe()}>"


class Block:
    """An ordered list of operations with typed block arguments."""

    def __init__(self, arg_types: Sequence[Type] = ()):
        self.args: list[BlockArgument] = [
            BlockArgument(t, self, i) for i, t in enumerate(arg_types)
        ]
        self.ops: list[Operation] = []
        self.parent: Region | None = None

    def add_arg(self, t: Type) -> BlockArgument:
        arg = BlockArgument(t, self, len(self.args))
        self.args.append(arg)
        return arg

    def erase_arg(self, index: int) -> None:
        """Remove an unused argument, renumbering those after it."""
        arg = self.args[index]
        if arg.uses:
            raise ValueError("cannot erase a block argument that is still used")
        del self.args[index]
        for i, a in enumerate(self.args):
            a.index = i

    def append(self, op: Operation) -> Operation:
        return self.insert(len(self.ops), op)

    def insert(self, index: int, op: Operation) -> Operation:
        if op.parent is not None:
            raise ValueError(f"{op.name} is already in a block")
        op.parent = self
        self.ops.insert(index, op)
        op._slot = index if index >= 0 else len(self.ops) - 1
        return op

    def index_of(self, op: Operation) -> int:
        """The op's position: near where it last was (insertions and erasures nearby move it by
        a few places, so rewrites of long blocks stay linear), else found by a scan."""
        if op.parent is self:
            ops, hint = self.ops, op._slot
            for i in (hint, hint - 1, hint + 1, hint - 2, hint + 2, hint - 3, hint + 3):
                if 0 <= i < len(ops) and ops[i] is op:
                    op._slot = i
                    return i
            try:
                op._slot = ops.index(op)  # operations compare by identity
                return op._slot
            except ValueError:
                pass
        raise ValueError(f"{op.name} is not in this block")

    def remove(self, op: Operation) -> None:
        del self.ops[self.index_of(op)]
        op.parent = None

    def erase_ops(self, ops: Sequence[Operation]) -> None:
        """Erase several ops of this block at once, in time linear in the block and the uses
        involved: each must be unused once the others are gone."""
        gone = {id(op) for op in ops}
        for op in ops:
            for r in op.results:
                if any(id(u.operation) not in gone for u in r.uses):
                    raise ValueError(f"cannot erase {op.name}: result still used")
        touched: dict[int, Value] = {}
        for op in ops:
            for region in op.regions:
                for block in region.blocks:
                    for inner in block.ops:
                        inner.drop_all_references()
            for v in op._operands:
                touched[id(v)] = v
            op._operands = []
        for v in touched.values():
            v.uses = [u for u in v.uses if id(u.operation) not in gone]
        self.ops[:] = [op for op in self.ops if id(op) not in gone]
        for op in ops:
            op.parent = None

    def reorder(self, ops: Sequence[Operation]) -> None:
        """Put this block's ops in the order ``ops`` (a permutation of them)."""
        if len(ops) != len(self.ops) or {id(o) for o in ops} != {id(o) for o in self.ops}:
            raise ValueError("reorder needs a permutation of the block's ops")
        self.ops[:] = list(ops)

    @property
    def terminator(self) -> Operation | None:
        return self.ops[-1] if self.ops else None

    @property
    def parent_op(self) -> Operation | None:
        return self.parent.parent if self.parent else None


class Region:
    """A list of blocks owned by an operation."""

    def __init__(self, blocks: Sequence[Block] = ()):
        self.blocks: list[Block] = []
        self.parent: Operation | None = None
        for block in blocks:
            self.add_block(block)

    def add_block(self, block: Block) -> Block:
        if block.parent is not None:
            raise ValueError("block already belongs to a region")
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        """The single block of a single-block region."""
        if len(self.blocks) != 1:
            raise ValueError(f"region has {len(self.blocks)} blocks, not 1")
        return self.blocks[0]
