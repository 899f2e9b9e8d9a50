"""The pass interface and the pass registry.

A pass is a frozen dataclass. Its fields are its options: ``max_iter: int = 10`` is spelled
``max-iter`` in a pipeline string (``cse{max-iter=3}``) and documented by ``field(metadata={"help":
...})``. A pass implements:

- ``requires(module)``: the precondition; raise :class:`PassFailure` naming what is missing;
- ``run(module) -> bool``: transform the module, return whether anything changed;
- ``ensures(module)``: the postcondition (e.g. "no op of dialect X is left").

The pass manager knows passes only through the registry that :func:`register_pass` fills: the
built-in passes register when ``compiler.passes`` is imported, which ``compiler.pipelines`` and
the tools do (the pass manager never imports the passes built on it).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from ..ir.builtin import ModuleOp
from ..ir.diagnostics import IRError


class PassFailure(IRError):
    """A pass could not do its job on this input (a user-facing error with a location)."""


@dataclasses.dataclass(frozen=True)
class Pass:
    """Base class of passes; subclasses are frozen dataclasses registered with @register_pass."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def requires(self, module: ModuleOp) -> None:
        """Check the precondition; raise PassFailure if it does not hold."""

    def run(self, module: ModuleOp) -> bool:
        raise NotImplementedError

    def ensures(self, module: ModuleOp) -> None:
        """Check the postcondition; raise PassFailure if it does not hold."""

    # -- options ----------------------------------------------------------------------------------
    @classmethod
    def options(cls) -> list[dataclasses.Field]:
        return list(dataclasses.fields(cls))

    @staticmethod
    def option_name(field: dataclasses.Field) -> str:
        return field.name.replace("_", "-")

    def non_default_options(self) -> dict[str, object]:
        out = {}
        for f in self.options():
            value = getattr(self, f.name)
            if value != f.default:
                out[self.option_name(f)] = value
        return out


PASS_REGISTRY: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make the pass available by name in pipelines and ``--list-passes``."""
    if not cls.name or not cls.summary:
        raise ValueError(f"pass {cls.__name__} needs a name and a summary")
    if cls.name in PASS_REGISTRY and PASS_REGISTRY[cls.name] is not cls:
        raise ValueError(f"pass name '{cls.name}' registered twice")
    PASS_REGISTRY[cls.name] = cls
    return cls


def lookup_pass(name: str) -> type[Pass] | None:
    """The registered pass called ``name`` (None if there is none)."""
    return PASS_REGISTRY.get(name)


def all_passes() -> list[type[Pass]]:
    """Every registered pass, by name."""
    return [PASS_REGISTRY[k] for k in sorted(PASS_REGISTRY)]


def describe_passes() -> str:
    """The text of ``--list-passes``: every pass, its summary and its options."""
    lines = []
    for cls in all_passes():
        lines.append(f"  {cls.name:<28} {cls.summary}")
        for f in cls.options():
            help_text = f.metadata.get("help", "")
            type_name = getattr(f.type, "__name__", str(f.type))
            lines.append(
                f"      {Pass.option_name(f)}={f.default!r:<10} ({type_name}) {help_text}".rstrip()
            )
    return "\n".join(lines)
