"""Source locations and user-facing diagnostics.

Every error a user can cause (bad IR text, an op that fails verification, an unknown pass) is raised as
an :class:`IRError` carrying a location. Tools catch it and print it in the LLVM style::

    model.mlir:3:7: error: unknown operation 'onnx.Frob'
      %0 = "onnx.Frob"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
           ^
"""

from __future__ import annotations

from dataclasses import dataclass


class Location:
    """Base class of source locations attached to operations."""

    def describe(self) -> str:
        """A short human-readable form used in error messages."""
        return "<unknown>"


@dataclass(frozen=True)
class UnknownLoc(Location):
    """No location is known."""

    def describe(self) -> str:
        return "<unknown>"


@dataclass(frozen=True)
class NameLoc(Location):
    """A named location: imported ONNX nodes carry their node name here."""

    name: str

    def describe(self) -> str:
        return f"'{self.name}'"


@dataclass(frozen=True)
class FileLineColLoc(Location):
    """A position in a text file (1-based line and column)."""

    filename: str
    line: int
    col: int

    def describe(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}"


UNKNOWN_LOC = UnknownLoc()


class IRError(Exception):
    """A user-facing error: a message plus where it happened.

    ``source`` (the text of the file) lets :meth:`render` show the offending line and a caret.
    """

    def __init__(self, message: str, loc: Location | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc or UNKNOWN_LOC
        self.source = source

    def render(self) -> str:
        """Format as ``FILE:LINE:COL: error: MESSAGE`` followed by the line and a caret."""
        loc = self.loc
        if isinstance(loc, FileLineColLoc):
            head = f"{loc.filename}:{loc.line}:{loc.col}: error: {self.message}"
            line = _source_line(self.source, loc.line)
            if line is None:
                return head
            caret = " " * (max(loc.col, 1) - 1) + "^"
            return f"{head}\n{line}\n{caret}"
        if isinstance(loc, NameLoc):
            return f"error: {self.message} (at {loc.describe()})"
        return f"error: {self.message}"

    def __str__(self) -> str:
        return self.render()


class VerificationError(IRError):
    """The IR is structurally or semantically invalid."""


def _source_line(source: str | None, line: int) -> str | None:
    if source is None or line < 1:
        return None
    lines = source.splitlines()
    if line > len(lines):
        return None
    return lines[line - 1].expandtabs(1)
