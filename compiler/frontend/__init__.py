"""The ONNX frontend: ModelProto -> a module of the onnx dialect (importer.py), plus the placement
table (placement.py) and the coverage survey (coverage.py) behind ``imcc --list-ops/--coverage``."""

from .errors import InputShapeError, OnnxImportError, UnsupportedError, UnsupportedOpError
from .importer import import_model

__all__ = [
    "InputShapeError",
    "OnnxImportError",
    "UnsupportedError",
    "UnsupportedOpError",
    "import_model",
]
