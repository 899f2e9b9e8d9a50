"""The pass manager: passes, pipeline strings, instruments."""

from .manager import PassManager
from .pass_base import Pass, PassFailure, all_passes, lookup_pass, register_pass
from .pipeline import parse_pipeline, print_pipeline

__all__ = [
    "Pass",
    "PassFailure",
    "PassManager",
    "all_passes",
    "lookup_pass",
    "parse_pipeline",
    "print_pipeline",
    "register_pass",
]
