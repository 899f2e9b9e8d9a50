"""The target a module is compiled for, as the runtime's validated `Target`.

The driver and the Python API record the target once, as the module attribute ``imcc.target`` (a
preset name or a TOML path, plus ``imcc.target_overrides`` for ``--set``); every backend pass reads
it from there, so ``imcc-opt`` on a dumped module compiles for the same chip.
"""

from __future__ import annotations

from functools import lru_cache

from imcc.runtime.targets import Target, TargetError, load_target

from ..ir.attributes import DictAttr, StringAttr
from ..ir.builtin import ModuleOp
from ..ir.diagnostics import IRError

TARGET_ATTR = "imcc.target"
OVERRIDES_ATTR = "imcc.target_overrides"
DEFAULT_TARGET = "cluster"


def target_name(module: ModuleOp) -> str:
    """The module's target spec (preset name or TOML path), ``cluster`` when none is recorded."""
    return module.get_attr(TARGET_ATTR, DEFAULT_TARGET)


@lru_cache(maxsize=16)
def _load(spec: str, overrides: tuple[tuple[str, str], ...] = ()) -> Target:
    return load_target(spec, dict(overrides) or None)


def set_target(module: ModuleOp, spec: str, overrides: dict[str, str] | None = None) -> None:
    """Record the target (a preset name or a TOML path, and ``--set`` overrides) on the module."""
    module.attributes[TARGET_ATTR] = StringAttr(str(spec))
    if overrides:
        entries = tuple((k, StringAttr(str(v))) for k, v in sorted(overrides.items()))
        module.attributes[OVERRIDES_ATTR] = DictAttr(entries)


def module_target(module: ModuleOp) -> Target:
    """The `Target` the module is compiled for (an IRError naming the spec if it cannot load)."""
    spec = target_name(module)
    overrides = tuple(sorted((module.get_attr(OVERRIDES_ATTR) or {}).items()))
    try:
        return _load(spec, overrides)
    except (TargetError, OSError) as exc:
        raise IRError(f"cannot load target '{spec}': {exc}") from None


def weight_group(target: Target):
    """The array group that holds static weights: the first analog group, else the first digital
    one (FAT's ternary arrays)."""
    for kind in ("analog", "digital"):
        for g in target.arrays:
            if g.kind == kind:
                return g
    raise IRError(f"target '{target.name}' has no array group for static weights")
