"""The target a module is compiled for, as the runtime's validated `Target`.

The driver and the Python API record the target once, as the module attribute ``imcc.target`` (a
preset name or a TOML path, plus ``imcc.target_overrides`` for ``--set``); every backend pass reads
it from there, so ``imcc-opt`` on a dumped module compiles for the same chip.
"""

from __future__ import annotations

from functools import lru_cache

from imcc.runtime.targets import Target, TargetError, load_target

from ..ir.attributes import StringAttr
from ..ir.builtin import ModuleOp
from ..ir.diagnostics import IRError

TARGET_ATTR = "imcc.target"
DEFAULT_TARGET = "cluster"


def target_name(module: ModuleOp) -> str:
    """The module's target spec (preset name or TOML path), ``cluster`` when none is recorded."""
    return module.get_attr(TARGET_ATTR, DEFAULT_TARGET)


@lru_cache(maxsize=16)
def _load(spec: str) -> Target:
    return load_target(spec)


def set_target(module: ModuleOp, spec: str) -> None:
    """Record the target (a preset name or a TOML path) on the module."""
    module.attributes[TARGET_ATTR] = StringAttr(str(spec))


def module_target(module: ModuleOp) -> Target:
    """The `Target` the module is compiled for (an IRError naming the spec if it cannot load)."""
    spec = target_name(module)
    try:
        return _load(spec)
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
