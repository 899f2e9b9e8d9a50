"""Dialects built on the IR core. Importing this package registers all their ops."""

from . import func, imc, nn, onnx, quant, testing  # noqa: F401
