"""imcc: a compiler toolchain for in-memory-computing accelerators."""

__version__ = "0.1.0"
