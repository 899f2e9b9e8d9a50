"""Dialects built on the IR core. Importing this package registers all their ops."""

from . import func, testing  # noqa: F401
