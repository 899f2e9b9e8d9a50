"""Reading ONNX models: files, bytes or protos; external tensor data; opset normalisation.

External data is read only from inside the model's own folder: absolute locations, ``..``
components and symlinks leading out of the folder are refused, so a model file cannot make imcc
read arbitrary files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from imcc.runtime.fileio import InputPathError, read_file
from onnx import numpy_helper

from ..dialects.onnx.schema import NEWEST_OPSET, OLDEST_OPSET
from ..ir.types import numpy_dtype
from .errors import OnnxImportError, UnsupportedError
from .onnx_types import element_type

#: Models importing an older opset are converted to this one first.
NATIVE_OPSET = 9

Notes = Callable[[str], None]


@dataclass
class LoadedModel:
    """A parsed model and where it came from."""

    model: onnx.ModelProto
    #: The name used in messages (the file's name, or ``<bytes>`` / ``<model>``).
    source: str
    #: The folder external data may be read from (None: the model has no folder).
    base_dir: str | None


def read_model(model, base_dir: str | None = None) -> LoadedModel:
    """Parse ``model``: a path (``.onnx``, or ``.onnxtxt`` in ONNX's textual syntax), the bytes of
    a model, or a ``ModelProto``. ``base_dir`` is the folder of external data for bytes and protos
    (paths use their own folder)."""
    if isinstance(model, onnx.ModelProto):
        return LoadedModel(model, "<model>", base_dir)
    if isinstance(model, bytes | bytearray | memoryview):
        return LoadedModel(parse_model_bytes(bytes(model), "<bytes>"), "<bytes>", base_dir)
    if isinstance(model, str | os.PathLike):
        path = os.fspath(model)
        source = os.path.basename(path) or path
        data = _read_file(path)
        if path.endswith(".onnxtxt"):
            parsed = _parse_text(data, source)
        else:
            parsed = parse_model_bytes(data, source)
        return LoadedModel(parsed, source, os.path.dirname(os.path.abspath(path)))
    raise TypeError(f"cannot import a model from {type(model).__name__}")


def _read_file(path: str) -> bytes:
    try:
        return read_file(path)
    except InputPathError as exc:
        message = str(exc)
        prefix = f"{path}: "
        raise OnnxImportError(
            message[len(prefix) :] if message.startswith(prefix) else message, path
        ) from None


def parse_model_bytes(data: bytes, source: str) -> onnx.ModelProto:
    """Parse a serialized ModelProto, refusing anything that is not a plausible ONNX model."""
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise OnnxImportError(f"not an ONNX model (protobuf parse failed: {exc})", source) from None
    if not data or model.ir_version <= 0 or not model.HasField("graph"):
        raise OnnxImportError("not an ONNX model (no IR version or no graph)", source)
    bad = _non_utf8_string(model, "model")
    if bad:
        raise OnnxImportError(f"not a valid ONNX model: {bad} is not UTF-8 text", source)
    return model


def _non_utf8_string(message, path: str) -> str | None:
    """The first string field (names, types, locations, ...) of ``message`` holding bytes that
    are not UTF-8, as a path like ``model.graph.node[3].name``, so that no later step meets a
    name that is bytes."""
    string = FieldDescriptor.TYPE_STRING
    for field, value in message.ListFields():
        where = f"{path}.{field.name}"
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if _repeated(field) else [value]
            for i, item in enumerate(items):
                found = _non_utf8_string(item, f"{where}[{i}]" if _repeated(field) else where)
                if found:
                    return found
        elif field.type == string:
            # protobuf hands a string field that is not UTF-8 over as bytes (or raises)
            try:
                values = list(value) if _repeated(field) else [value]
            except UnicodeDecodeError:
                return where
            if any(isinstance(v, bytes) for v in values):
                return where
    return None


def _repeated(field) -> bool:
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _parse_text(data: bytes, source: str) -> onnx.ModelProto:
    try:
        return onnx.parser.parse_model(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise OnnxImportError(f"not UTF-8 text (byte {exc.start})", source) from None
    except onnx.parser.ParseError as exc:
        raw = exc.args[0] if exc.args else ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        message = " ".join(text.split())
        raise OnnxImportError(f"ONNX text syntax error: {message}", source) from None


# --- tensors --------------------------------------------------------------------------------------


def tensor_array(tensor: onnx.TensorProto, where: str, loaded: LoadedModel) -> np.ndarray:
    """The numpy array of an initializer or tensor attribute (external data loaded safely).

    ``where`` names the tensor in messages. Arrays from raw data share the proto's bytes (no
    per-element work, no copy beyond the one protobuf makes).
    """
    t = element_type(tensor.data_type, where)
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return _external_array(tensor, where, loaded, numpy_dtype(t))
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # onnx raises several types for malformed tensors
        raise OnnxImportError(f"{where} is malformed: {exc}", loaded.source) from None


def _external_array(tensor, where: str, loaded: LoadedModel, dtype: np.dtype) -> np.ndarray:
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    path = safe_external_path(location, where, loaded)
    try:
        offset = int(info.get("offset", "0") or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError:
        raise OnnxImportError(
            f"{where}: bad external data offset or length", loaded.source
        ) from None
    dims = tuple(int(d) for d in tensor.dims)
    count = int(np.prod(dims, dtype=np.int64))
    expected = count * dtype.itemsize
    if length is not None and length != expected:
        raise OnnxImportError(
            f"{where}: external data length {length} does not match its shape {list(dims)} "
            f"({expected} bytes)",
            loaded.source,
        )
    size = os.path.getsize(path)
    if offset < 0 or offset + expected > size:
        raise OnnxImportError(
            f"{where}: external file '{location}' holds {size} bytes, the tensor needs bytes "
            f"{offset}..{offset + expected}",
            loaded.source,
        )
    array = np.fromfile(path, dtype=dtype.newbyteorder("<"), count=count, offset=offset)
    return array.astype(dtype, copy=False).reshape(dims)


def safe_external_path(location: str, where: str, loaded: LoadedModel) -> str:
    """The real path of an external data file, which must lie inside the model's folder."""
    if loaded.base_dir is None:
        raise OnnxImportError(
            f"{where} is stored in external file '{location}', but the model was not loaded "
            "from a file (pass its folder as base_dir)",
            loaded.source,
        )
    if not location:
        raise OnnxImportError(f"{where}: external data without a location", loaded.source)
    if (
        os.path.isabs(location)
        or location.startswith(("/", "\\"))
        or os.path.splitdrive(location)[0]
    ):
        raise OnnxImportError(
            f"{where}: external data location '{location}' is an absolute path; only files "
            "inside the model's folder are read",
            loaded.source,
        )
    if "\x00" in location:
        raise OnnxImportError(
            f"{where}: external data location holds a NUL character", loaded.source
        )
    parts = location.replace("\\", "/").split("/")
    if ".." in parts:
        raise OnnxImportError(
            f"{where}: external data location '{location}' leaves the model's folder ('..')",
            loaded.source,
        )
    root = os.path.realpath(loaded.base_dir)
    path = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, path]) != root:
        raise OnnxImportError(
            f"{where}: external data location '{location}' resolves outside the model's folder "
            "(through a symlink)",
            loaded.source,
        )
    if not os.path.isfile(path):
        raise OnnxImportError(
            f"{where}: external data file '{location}' does not exist", loaded.source
        )
    return path


# --- opsets ---------------------------------------------------------------------------------------


def default_opset(model: onnx.ModelProto, source: str) -> int:
    """The version of the default ONNX domain the model imports."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise OnnxImportError("the model imports no version of the default ONNX domain", source)


def normalize_opset(
    loaded: LoadedModel, notes: Notes, kernels_accept: Callable[[int], str | None]
) -> int:
    """Bring the model to an opset the importer handles natively and return it.

    Opsets from 9 to the newest are kept. Older ones are converted to 9 with ONNX's version
    converter; if that fails, the model is kept at its own opset when it is at least 7 and
    ``kernels_accept(opset)`` (which returns a reason when it does not) has no objection.
    """
    opset = default_opset(loaded.model, loaded.source)
    if opset > NEWEST_OPSET:
        raise UnsupportedError(
            f"the model imports opset {opset}, newer than the newest this onnx package knows "
            f"({NEWEST_OPSET})",
            loaded.source,
        )
    if opset >= NATIVE_OPSET:
        return opset
    try:
        converted = onnx.version_converter.convert_version(loaded.model, NATIVE_OPSET)
    except Exception as exc:  # the converter raises bare RuntimeErrors and more
        failure = " ".join(str(exc).split()) or type(exc).__name__
    else:
        notes(f"converted the model from opset {opset} to opset {NATIVE_OPSET}")
        loaded.model = converted
        return NATIVE_OPSET
    objection = (
        kernels_accept(opset)
        if opset >= OLDEST_OPSET
        else f"opset {opset} is older than {OLDEST_OPSET}"
    )
    if objection:
        raise UnsupportedError(
            f"the model imports opset {opset}; converting it to opset {NATIVE_OPSET} failed "
            f"({failure}) and it cannot be imported as is: {objection}",
            loaded.source,
        )
    notes(
        f"could not convert the model from opset {opset} to {NATIVE_OPSET} ({failure}); importing it at opset {opset}"
    )
    return opset
