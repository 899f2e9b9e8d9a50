"""imcc: a compiler toolchain for in-memory-computing accelerators.

``imcc.compile(model, emit="onnx")`` imports and compiles an ONNX model; ``imcc.run(module_or_path,
inputs)`` runs it (modules in the reference interpreter, ``.bin`` programs on the simulated chip).
"""

from .api import compile, run

__version__ = "0.1.0"

__all__ = ["__version__", "compile", "run"]
