"""Rewrite patterns and the greedy driver that applies them to a fixed point.

A pattern names the op class it matches (``root``: the class or any base class of the op, as xDSL
roots patterns on a class, so a renamed op breaks at import rather than silently never matching;
a name string only for ops that have no class, of an unregistered dialect; ``None`` for any op)
and implements ``match_and_rewrite(op, rewriter)``, returning ``True`` after rewriting or a
:class:`NoMatch` saying why it did not apply. The driver records those reasons when asked
(``explain=True``), so a pass's ``debug-patterns`` option (``imcc-opt -p
'canonicalize{debug-patterns=true}'``) can tell a user why a rewrite they expected did not happen.

All IR changes inside a pattern go through the :class:`PatternRewriter` so that the driver can
revisit affected ops.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from .attributes import Attribute
from .builder import Builder
from .core import Operation, Value
from .ops import CONSTANT_MATERIALIZERS, ConstantLike, IROp, Pure


@dataclass
class NoMatch:
    """A pattern's explanation of why it did not apply; falsy."""

    reason: str

    def __bool__(self) -> bool:
        return False


class RewritePattern:
    """Base class of rewrite patterns."""

    #: The op class this pattern matches (instances of it and of its subclasses), the name of an op
    #: that has no class, or None for every op.
    root: type[Operation] | str | None = None
    #: Higher benefit patterns are tried first.
    benefit: int = 1

    @property
    def name(self) -> str:
        return type(self).__name__

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        raise NotImplementedError


class PatternRewriter:
    """The IR-mutation API offered to patterns; tells the driver what changed."""

    def __init__(self, driver: GreedyRewriteDriver | None = None):
        self.driver = driver

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        Builder.before(anchor).insert(op)
        self._notify_new(op)
        return op

    def replace_op(self, op: Operation, new_values: Sequence[Value] | Operation) -> None:
        """Replace every result of ``op`` with ``new_values`` (or another op's results) and erase it."""
        if isinstance(new_values, Operation):
            new_values = new_values.results
        if len(new_values) != len(op.results):
            raise ValueError(
                f"replacing {op.name}: {len(new_values)} values for {len(op.results)} results"
            )
        for old, new in zip(op.results, new_values):
            self.replace_all_uses_with(old, new)
        self.erase_op(op)

    def replace_all_uses_with(self, old: Value, new: Value) -> None:
        users = old.users()
        old.replace_all_uses_with(new)
        for user in users:
            self._notify_changed(user)

    def erase_op(self, op: Operation) -> None:
        operand_owners = [v.owner for v in op.operands if isinstance(v.owner, Operation)]
        op.erase()
        for owner in operand_owners:
            self._notify_changed(owner)

    def modify_op(self, op: Operation) -> None:
        """Call after changing ``op`` in place (attributes, operands)."""
        self._notify_changed(op)

    def _notify_new(self, op: Operation) -> None:
        if self.driver:
            self.driver.changed = True
            self.driver.push(op)

    def _notify_changed(self, op: Operation) -> None:
        if self.driver:
            self.driver.changed = True
            self.driver.push(op)


@dataclass
class GreedyRewriteDriver:
    """Applies folding, dead-code removal and patterns to every op under a root until nothing changes.

    ``max_iterations`` bounds the number of sweeps over the IR; one sweep processes a worklist that is
    refilled as rewrites touch ops.
    """

    patterns: Sequence[RewritePattern]
    max_iterations: int = 10
    fold: bool = True
    explain: bool = False
    changed: bool = False
    #: (pattern name, op name, op location, reason) for each failed match when ``explain`` is on.
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __post_init__(self):
        self._ordered = sorted(self.patterns, key=lambda p: -p.benefit)
        #: (op class, op name) -> the patterns rooted on it, by benefit, then the unrooted ones.
        self._for_op: dict[tuple[type, str], list[RewritePattern]] = {}
        self._worklist: deque[Operation] = deque()
        self._queued: set[int] = set()

    def patterns_for(self, op: Operation) -> list[RewritePattern]:
        """The patterns that may match ``op``: rooted on its class, a base class or its name
        (highest benefit first), then the patterns without a root."""
        key = (type(op), op.name)
        found = self._for_op.get(key)
        if found is None:
            bases = type(op).__mro__
            rooted = [p for p in self._ordered if p.root in bases or p.root == op.name]
            found = rooted + [p for p in self._ordered if p.root is None]
            self._for_op[key] = found
        return found

    def push(self, op: Operation) -> None:
        if id(op) not in self._queued:
            self._queued.add(id(op))
            self._worklist.append(op)

    def run(self, root: Operation) -> bool:
        """Rewrite everything nested under ``root``; return whether anything changed."""
        any_change = False
        rewriter = PatternRewriter(self)
        for _ in range(self.max_iterations):
            self.changed = False
            for op in root.walk():
                if op is not root:
                    self.push(op)
            while self._worklist:
                op = self._worklist.popleft()
                self._queued.discard(id(op))
                if op.parent is None:
                    continue  # erased meanwhile
                self._process(op, rewriter)
            any_change |= self.changed
            if not self.changed:
                break
        return any_change

    def _process(self, op: Operation, rewriter: PatternRewriter) -> None:
        if is_trivially_dead(op):
            rewriter.erase_op(op)
            return
        if self.fold and self._try_fold(op, rewriter):
            return
        for pattern in self.patterns_for(op):
            result = pattern.match_and_rewrite(op, rewriter)
            if result is True:
                return
            if self.explain and isinstance(result, NoMatch):
                self.failures.append((pattern.name, op.name, op.location.describe(), result.reason))

    def _try_fold(self, op: Operation, rewriter: PatternRewriter) -> bool:
        if not isinstance(op, IROp) or op.has_trait(ConstantLike) or not op.results:
            return False
        consts = [constant_value(v) for v in op.operands]
        folded = op.fold(consts)
        if folded is None:
            return False
        materialize = CONSTANT_MATERIALIZERS.get(op.name.split(".", 1)[0])
        if materialize is None:
            return False
        new_values = []
        for result, value in zip(op.results, folded):
            if isinstance(value, Value):
                new_values.append(value)
                continue
            const = materialize(value, result.type, op.location)
            rewriter.insert_before(op, const)
            new_values.append(const.results[0])
        rewriter.replace_op(op, new_values)
        return True


def constant_value(value: Value) -> Attribute | None:
    """The constant attribute behind ``value`` if a constant-like op defines it."""
    owner = value.owner
    if isinstance(owner, Operation) and owner.has_trait(ConstantLike):
        return owner.attributes.get("value")
    return None


def is_trivially_dead(op: Operation) -> bool:
    """A pure op none of whose results is used (and which has no regions) can go."""
    return (
        op.has_trait(Pure)
        and not op.regions
        and bool(op.results)
        and all(not r.uses for r in op.results)
    )
