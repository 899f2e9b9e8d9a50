"""Dialects built on the IR core. Importing this package registers all their ops."""

from . import func, imc, isa, nn, onnx, quant, testing  # noqa: F401
