"""imcc: a compiler toolchain for in-memory-computing accelerators.

``imcc.compile(model, target="cluster", precision="int8")`` compiles an ONNX model to a program
binary (``emit=`` stops at an IR level instead); ``imcc.load(path)`` reads one; ``imcc.run(program,
inputs)`` runs it (programs on the simulated chip, modules in the reference interpreter).
"""

from .api import compile, load, run

__version__ = "0.1.0"

__all__ = ["__version__", "compile", "load", "run"]
