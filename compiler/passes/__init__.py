"""Passes, one per module, each named like its pass (``cse.py`` ↔ ``cse``).

Importing this package registers every pass with the pass manager.
"""

from . import canonicalize, cse, dce, fold_constants  # noqa: F401
