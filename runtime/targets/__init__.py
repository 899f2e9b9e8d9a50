"""Target descriptions: bundled TOML presets, their loader, validation and fingerprints."""

from .loader import (
    ArrayGroup,
    Section,
    Target,
    TargetError,
    find_target,
    format_target_list,
    list_targets,
    load_target,
    loads_target,
)

__all__ = [
    "ArrayGroup",
    "Section",
    "Target",
    "TargetError",
    "find_target",
    "format_target_list",
    "list_targets",
    "load_target",
    "loads_target",
]
