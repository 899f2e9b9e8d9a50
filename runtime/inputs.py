"""Input files for ``imcc-run``: one loader, one set of rules, for program binaries and IR alike.

    named, unnamed = read_inputs(["x=x.npy", "batch.npz", "y.pb"])
    inputs = assign_inputs(["x", "y", "z"], named, unnamed, owner="program")

Each ``--input`` item is ``NAME=FILE`` or ``FILE``:

- an item that is the path of an existing file (or folder) is a ``FILE``, whatever it holds;
  otherwise an item with an ``=`` is ``NAME=FILE``, split at the first ``=``. Neither NAME nor
  FILE may be empty; which names exist is for the caller to check (`assign_inputs` does not);
- the suffix picks the format, in any letter case (``x.npy``, ``X.NPY``): ``.npy`` holds one
  array; ``.npz`` one array per entry, named by its key; ``.pb`` one ONNX ``TensorProto``, named
  by its ``name`` field if it has one. Any other suffix is an error;
- ``NAME=FILE`` names the file's single array: a ``.npz`` given a name must hold exactly one
  array, and NAME replaces its key (or the ``.pb``'s own name);
- arrays without a name (a bare ``.npy``, a ``.pb`` with an empty name) fill the inputs that no
  name claimed, in input order; more of them than such inputs is an error, and so is a name
  given twice;
- nothing is unpickled (a file that needs pickle is unreadable) and ``.pb`` tensors with
  external data are refused.

Every problem raises `InputFileError`, with a message that starts with the item or file at
fault. The arrays' shapes and dtypes are checked by whoever runs them.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Sequence

import numpy as np

from .fileio import InputPathError, input_limit, load_npy, read_file

SUFFIXES = (".npy", ".npz", ".pb")


class InputFileError(Exception):
    """An ``--input`` item or file that cannot be used; the message names it."""


def split_item(item: str) -> tuple[str | None, str]:
    """``(NAME, FILE)`` of a ``NAME=FILE`` item, ``(None, FILE)`` of a bare one."""
    if os.path.exists(item) or "=" not in item:
        if not item:
            raise InputFileError("an empty --input item: expected [NAME=]FILE")
        return None, item
    name, _, path = item.partition("=")
    if not name:
        raise InputFileError(f"{item}: no input name before '=' (expected NAME=FILE)")
    if not path:
        raise InputFileError(f"{item}: no file after '=' (expected NAME=FILE)")
    return name, path


def read_array_file(path: str) -> dict[str | None, np.ndarray]:
    """The arrays of one input file by name (``None``: an array without a name)."""
    if not os.path.exists(path):
        raise InputFileError(f"{path}: cannot read: no such file")
    if os.path.isdir(path):
        raise InputFileError(f"{path}: cannot read: is a folder")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise InputFileError(f"{path}: unknown input format (expected .npy, .npz or .pb)")
    try:
        data = read_file(path)
        if suffix == ".npy":
            return {None: load_npy(data, path)}
        if suffix == ".npz":
            return _read_npz(data, path)
        return _read_tensor_proto(data, path)
    except InputFileError:
        raise
    except InputPathError as err:
        raise InputFileError(str(err)) from None
    except OSError as err:
        raise InputFileError(f"{path}: cannot read: {err.strerror or err}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputFileError(f"{path}: not a readable array file ({err})") from None


def _read_npz(data: bytes, path: str) -> dict[str | None, np.ndarray]:
    """Every array of an ``.npz``, each member's size checked before it is decompressed."""
    import io

    limit = input_limit()
    arrays: dict[str | None, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            if info.file_size > limit:
                raise InputFileError(
                    f"{path}: entry {info.filename} unpacks to {info.file_size:,} bytes, more "
                    f"than the input limit of {limit:,} (IMCC_MAX_BYTES raises it)"
                )
            key = info.filename[: -len(".npy")]
            arrays[key] = load_npy(z.read(info), f"{path}: entry {key}")
    return arrays


def _read_tensor_proto(data: bytes, path: str) -> dict[str | None, np.ndarray]:
    import onnx
    from google.protobuf.message import DecodeError
    from onnx import numpy_helper

    proto = onnx.TensorProto()
    try:
        proto.ParseFromString(data)
    except DecodeError as err:
        raise InputFileError(f"{path}: not an ONNX TensorProto ({err})") from None
    if proto.data_location == onnx.TensorProto.EXTERNAL:
        raise InputFileError(f"{path}: tensors with external data are not supported as inputs")
    try:
        array = numpy_helper.to_array(proto)
    except Exception as err:  # onnx raises several types for malformed tensors
        raise InputFileError(f"{path}: malformed TensorProto ({err})") from None
    return {proto.name or None: array}


def read_inputs(
    items: Iterable[str],
) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray]]]:
    """Read every item: ``(named arrays, [(file, array) without a name, in item order])``."""
    named: dict[str, np.ndarray] = {}
    unnamed: list[tuple[str, np.ndarray]] = []
    for item in items:
        name, path = split_item(item)
        arrays = read_array_file(path)
        if name is not None:
            if len(arrays) != 1:
                raise InputFileError(
                    f"{item}: a named input needs a file with one array, {path} holds {len(arrays)}"
                )
            arrays = {name: next(iter(arrays.values()))}
        for key, array in arrays.items():
            if key is None:
                unnamed.append((path, array))
            elif key in named:
                raise InputFileError(f"{path}: input '{key}' is given twice")
            else:
                named[key] = array
    return named, unnamed


def assign_inputs(
    names: Sequence[str],
    named: dict[str, np.ndarray],
    unnamed: Sequence[tuple[str, np.ndarray]],
    owner: str = "program",
) -> dict[str, np.ndarray]:
    """The named arrays plus the unnamed ones, given the names that no name claimed, in order.

    ``names`` are the inputs of the ``owner`` (a word for messages: ``program``, ``model``).
    Unknown and missing names are left for the caller to report.
    """
    free = [n for n in names if n not in named]
    if len(unnamed) > len(free):
        raise InputFileError(
            f"{unnamed[len(free)][0]}: more input files than {owner} inputs "
            f"({', '.join(names) or 'none'})"
        )
    out = dict(named)
    out.update(zip(free, (array for _, array in unnamed)))
    return out


def load_inputs(
    items: Iterable[str], names: Sequence[str], owner: str = "program"
) -> dict[str, np.ndarray]:
    """`read_inputs` then `assign_inputs`: the arrays of ``items`` by input name."""
    named, unnamed = read_inputs(items)
    return assign_inputs(names, named, unnamed, owner)
