"""The importer's user-facing errors.

Two kinds, because tools answer them with different exit codes: an :class:`OnnxImportError` means the
input is broken (not ONNX, truncated, invalid, external data outside the model's folder: exit 1); an
:class:`UnsupportedError` means the model is valid but uses something imcc does not support (an op,
a control-flow construct, a custom domain, an element type: exit 2).
"""

from __future__ import annotations

from ..ir.diagnostics import IRError, Location


class OnnxImportError(IRError):
    """The model cannot be imported because it is unreadable or invalid.

    ``source`` names the model (its file name) and prefixes the rendered message.
    """

    def __init__(self, message: str, source: str | None = None, loc: Location | None = None):
        super().__init__(message, loc)
        self.model_source = source

    def render(self) -> str:
        head = f"{self.model_source}: " if self.model_source else ""
        return f"{head}error: {self.message}"


class UnsupportedError(OnnxImportError):
    """The model is valid ONNX but uses a feature imcc does not support."""


class UnsupportedOpError(UnsupportedError):
    """A node whose op imcc cannot import; names the op type, the node and the opset."""

    def __init__(
        self, op_type: str, node_name: str, opset: int, reason: str, source: str | None = None
    ):
        message = f"unsupported ONNX op '{op_type}' (node '{node_name}', opset {opset}): {reason}"
        super().__init__(message, source)
        self.op_type = op_type
        self.node_name = node_name
        self.opset = opset
        self.reason = reason


class InputShapeError(OnnxImportError):
    """``input_shapes`` names an unknown input or contradicts the model (a usage error)."""
