"""Declarative op definitions, traits and the op registry.

A dialect defines an op as a small class::

    class AddOp(IROp):
        \"\"\"Elementwise addition with numpy broadcasting.

        Example:
            %2 = "onnx.Add"(%0, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
        \"\"\"

        name = "onnx.Add"
        operand_defs = (OperandDef("A", tensor_type), OperandDef("B", tensor_type))
        result_defs = (ResultDef("C", tensor_type),)
        traits = frozenset({Pure, Commutative})

Defining the class (a subclass of :class:`IROp` with a ``name``) registers it under ``name``. The
generic verifier (``IROp.verify_structure``) checks operand and result counts and constraints and
attribute presence and kinds; ``verify_`` adds op-specific checks and raises
:class:`VerificationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .attributes import Attribute
from .core import Operation, Region, Value
from .diagnostics import UNKNOWN_LOC, Location, VerificationError
from .types import NoneType, RankedTensorType, Type

# --- traits -------------------------------------------------------------------------------------


class Trait:
    """Marker base class for op traits."""


class Pure(Trait):
    """No side effects: unused results may be deleted, identical ops merged (CSE)."""


class Terminator(Trait):
    """Must be the last op of its block."""


class Commutative(Trait):
    """Operand order does not matter (canonicalisation may sort operands)."""


class ConstantLike(Trait):
    """Produces a constant held in its ``value`` attribute (constant folding reads it)."""


class IsolatedFromAbove(Trait):
    """Regions may not use values defined outside the op."""


class NoTerminator(Trait):
    """Single-block regions of this op have no terminator (e.g. ``builtin.module``)."""


class SymbolTable(Trait):
    """Ops nested directly in the region define symbols (``sym_name``) unique in it."""


# --- constraints --------------------------------------------------------------------------------

Constraint = Callable[[Type], bool]


def any_type(t: Type) -> bool:
    return True


def tensor_type(t: Type) -> bool:
    return isinstance(t, RankedTensorType)


def tensor_or_none(t: Type) -> bool:
    return isinstance(t, RankedTensorType | NoneType)


any_type.description = "any type"
tensor_type.description = "a ranked tensor"
tensor_or_none.description = "a ranked tensor or none"


def _describe(constraint: Constraint) -> str:
    return getattr(constraint, "description", constraint.__name__)


@dataclass(frozen=True)
class OperandDef:
    """One declared operand. ``variadic`` takes any number (at most one variadic per op);
    ``optional`` operands are always present but may be ``none``-typed (absent)."""

    name: str
    constraint: Constraint = any_type
    variadic: bool = False
    optional: bool = False


@dataclass(frozen=True)
class ResultDef:
    """One declared result; ``variadic`` as for operands."""

    name: str
    constraint: Constraint = any_type
    variadic: bool = False


@dataclass(frozen=True)
class AttrDef:
    """One declared attribute: its name, the attribute class(es) allowed and whether it is required."""

    name: str
    kind: type | tuple[type, ...] = Attribute
    required: bool = False
    doc: str = ""


# --- registry -----------------------------------------------------------------------------------

OP_REGISTRY: dict[str, type[Operation]] = {}

#: Dialect name -> function(value attribute, result type, location) -> constant op, used by folding.
CONSTANT_MATERIALIZERS: dict[str, Callable[[Attribute, Type, Location], Operation]] = {}


def register_op(cls: type[Operation]) -> type[Operation]:
    """Register an op class under its ``name`` (subclasses of :class:`IROp` do so when defined)."""
    if not cls.name or "." not in cls.name:
        raise ValueError(f"op class {cls.__name__} needs a 'dialect.op' name")
    existing = OP_REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"op {cls.name} registered twice ({existing.__name__}, {cls.__name__})")
    OP_REGISTRY[cls.name] = cls
    return cls


def lookup_op(name: str) -> type[Operation] | None:
    return OP_REGISTRY.get(name)


class IROp(Operation):
    """Base class of declaratively defined ops; subclasses with a ``name`` register themselves."""

    operand_defs: tuple[OperandDef, ...] = ()
    result_defs: tuple[ResultDef, ...] = ()
    attr_defs: tuple[AttrDef, ...] = ()
    num_regions: int = 0
    #: Attributes whose names contain a dot (``imc.tile``) are discardable and always allowed;
    #: others must be declared unless this is True.
    allow_undeclared_attrs: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and cls.name:
            register_op(cls)

    @classmethod
    def create(
        cls,
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        attributes: dict[str, Attribute] | None = None,
        regions: Sequence[Region] = (),
        location: Location = UNKNOWN_LOC,
    ):
        """Build an instance (no verification; the pass manager verifies)."""
        return cls(operands, result_types, attributes, regions, location)

    # -- named access -----------------------------------------------------------------------------
    def operand_groups(self) -> dict[str, list[Value]]:
        """Operands grouped by their declared names (variadic groups get all their values)."""
        return _group(self.operand_defs, list(self.operands), self.name, "operand")

    def result_groups(self) -> dict[str, list[Value]]:
        return _group(self.result_defs, list(self.results), self.name, "result")

    def operand(self, name: str) -> Value | None:
        """The operand declared as ``name``; ``None`` if it is an absent optional operand."""
        values = self.operand_groups()[name]
        if not values:
            return None
        value = values[0]
        return None if isinstance(value.type, NoneType) else value

    # -- verification -----------------------------------------------------------------------------
    def verify_structure(self) -> None:
        """Check operands, results, attributes and regions against the declaration."""
        _check_counts(self, self.operand_defs, len(self.operands), "operand")
        _check_counts(self, self.result_defs, len(self.results), "result")
        for group, (defn, values) in zip(
            ("operand", "result"),
            ((self.operand_defs, self.operand_groups()), (self.result_defs, self.result_groups())),
        ):
            for d in defn:
                for v in values[d.name]:
                    if isinstance(v.type, NoneType) and getattr(d, "optional", False):
                        continue
                    if not d.constraint(v.type):
                        raise VerificationError(
                            f"'{self.name}' {group} '{d.name}' must be {_describe(d.constraint)}, "
                            f"got {v.type}",
                            self.location,
                        )
        declared = {a.name: a for a in self.attr_defs}
        for a in self.attr_defs:
            if a.required and a.name not in self.attributes:
                raise VerificationError(
                    f"'{self.name}' requires attribute '{a.name}'", self.location
                )
        for key, value in self.attributes.items():
            d = declared.get(key)
            if d is None:
                if "." in key or self.allow_undeclared_attrs:
                    continue
                raise VerificationError(
                    f"'{self.name}' has unknown attribute '{key}'", self.location
                )
            if not isinstance(value, d.kind):
                kinds = d.kind if isinstance(d.kind, tuple) else (d.kind,)
                names = " or ".join(k.__name__ for k in kinds)
                raise VerificationError(
                    f"'{self.name}' attribute '{key}' must be {names}, got {type(value).__name__}",
                    self.location,
                )
        if len(self.regions) != self.num_regions:
            raise VerificationError(
                f"'{self.name}' expects {self.num_regions} region(s), got {len(self.regions)}",
                self.location,
            )

    def verify_(self) -> None:
        """Op-specific checks; override in subclasses."""

    # -- folding hooks ----------------------------------------------------------------------------
    def fold(self, operand_constants: list[Attribute | None]) -> list[Attribute] | None:
        """Return one constant attribute per result if the op folds, else ``None``."""
        return None

    @classmethod
    def canonicalization_patterns(cls) -> list:
        """Rewrite patterns that canonicalize this op (run by the ``canonicalize`` pass)."""
        return []


def _check_counts(op, defs, count: int, what: str) -> None:
    fixed = sum(1 for d in defs if not d.variadic)
    has_variadic = any(d.variadic for d in defs)
    if (has_variadic and count < fixed) or (not has_variadic and count != fixed):
        expected = f"at least {fixed}" if has_variadic else str(fixed)
        raise VerificationError(
            f"'{op.name}' expects {expected} {what}(s), got {count}", op.location
        )


def _group(defs, values: list, op_name: str, what: str) -> dict[str, list]:
    fixed = sum(1 for d in defs if not d.variadic)
    n_var = max(len(values) - fixed, 0)
    groups: dict[str, list] = {}
    pos = 0
    for d in defs:
        take = n_var if d.variadic else 1
        groups[d.name] = values[pos : pos + take]
        pos += take
    return groups


def verify_op(op: Operation) -> None:
    """Verify one op (not its nested ops): declaration checks, then ``verify_``."""
    if isinstance(op, IROp):
        op.verify_structure()
        op.verify_()
