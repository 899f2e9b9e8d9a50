"""imcc: a compiler toolchain for in-memory-computing accelerators.

``imcc.compile(model, target="cluster", precision="int8")`` compiles an ONNX model to a program
binary (``emit=`` stops at an IR level instead); ``imcc.load(path)`` reads one; ``imcc.run(program,
inputs)`` runs it (programs on the simulated chip, modules in the reference interpreter).
``imcc.tune_allocator()`` sets glibc's allocator up for large numpy temporaries, as the
command-line tools do at start (see ``imcc.runtime.allocator``).
"""

from .api import compile, load, run
from .runtime.allocator import tune as tune_allocator

__version__ = "0.1.0"

__all__ = ["__version__", "compile", "load", "run", "tune_allocator"]
