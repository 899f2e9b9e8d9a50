"""Calibration data: where it comes from, how it travels with the module, how it is cut into
batches.

A calibration set maps every input name of the model to an array of N samples (first axis), from
an ``.npz`` file (``--calibration FILE.npz``, loaded with ``allow_pickle=False``) or a dict given to
``imcc.compile(..., calibration=...)``. An extra key ``labels`` (int, ``[N]``) turns accuracy
budgets on. Without data, a seeded synthetic set is made from the input types and a warning goes
to stderr: synthetic data only exercises the model, it does not represent it.

The set travels in the open, as the module attribute ``imcc.calibration`` (:data:`CALIBRATION_ATTR`):
``{source = "calib.npz", inputs = {x = dense_resource<calibration.x> : tensor<...>}, labels = ...,
reference = [...]}``, its arrays printed as named resources in the IR's resource section. A
synthetic set is recorded as ``{source = "<synthetic>", synthetic = N}`` and regenerated from the
seed. ``reference`` holds the float model's outputs on the set, recorded by the first precision
pass, so every later pass can report the model-level error against fp32. The driver and the Python
API attach a set with :func:`attach_calibration`; passes read it with :func:`calibration_for`;
``strip-calibration``, the last step of the quant level, removes it.

Why a module attribute rather than a pass option naming the file: a dict given to
``imcc.compile`` has no file; the float reference computed by the first pass has to reach the
later ones, and the module is the only thing passes share; and a dumped ``.mlir``
(``--dump-ir-dir``) must be runnable on its own: ``imcc-opt`` on the dump with the same pipeline
reproduces the original run bit for bit, whichever pass the dump follows. The price is size:
dumps carry the calibration arrays (usually small beside the weights they sit next to).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..interp.interpreter import arg_names, main_function
from ..ir.attributes import ArrayAttr, DenseElementsAttr, DictAttr, IntegerAttr, StringAttr
from ..ir.builtin import ModuleOp
from ..ir.diagnostics import IRError
from ..ir.types import RankedTensorType, numpy_dtype

#: The module attribute holding the calibration set.
CALIBRATION_ATTR = "imcc.calibration"
LABELS_KEY = "labels"
#: Synthetic stand-in data carries no information about real inputs: a few samples measure the
#: ranges as well as many. At most 32 samples and at most about SYNTHETIC_ELEMENTS input values
#: in all (four 224x224 images), at least 4.
SYNTHETIC_SAMPLES = 32
SYNTHETIC_MIN_SAMPLES = 4
SYNTHETIC_ELEMENTS = 1 << 19
SYNTHETIC_SEED = 0


class CalibrationError(IRError):
    """Calibration data that cannot be used (missing inputs, wrong shapes or types, bad file)."""


@dataclass(eq=False)
class Calibration:
    """Calibration inputs by name (N samples each), optional labels and where they came from."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    source: str = "<dict>"
    synthetic: bool = False
    #: Outputs of the float model on these inputs (set by the first precision pass).
    reference: list[np.ndarray] | None = field(default=None, repr=False)

    @property
    def samples(self) -> int:
        """N, the number of samples."""
        return int(next(iter(self.inputs.values())).shape[0])


def attach_calibration(module: ModuleOp, data) -> Calibration:
    """Make ``data`` (a path, a dict of arrays or a Calibration) the calibration set of ``module``
    (recorded as its ``imcc.calibration`` attribute)."""
    cal = data if isinstance(data, Calibration) else make_calibration(module, data)
    check_calibration(module, cal)
    store_calibration(module, cal)
    return cal


def calibration_for(module: ModuleOp, path: str = "") -> Calibration:
    """The calibration set a pass uses: ``path`` if given, else the attached set, else a
    synthetic one (warned about once: it is attached as such)."""
    cal = attached_calibration(module)
    if path:
        if cal is None or cal.source != path:
            cal = attach_calibration(module, path)
        return cal
    if cal is None:
        cal = synthetic_calibration(module)
        print(
            f"imcc: warning: no calibration data given; using {cal.samples} seeded synthetic "
            "samples (pass --calibration FILE.npz for real accuracy)",
            file=sys.stderr,
        )
        store_calibration(module, cal)
    return cal


def store_calibration(module: ModuleOp, cal: Calibration) -> None:
    """Record ``cal`` (and its float reference, once known) as the module's calibration set."""
    entries: list[tuple[str, object]] = [("source", StringAttr(cal.source))]
    if cal.synthetic:
        entries.append(("synthetic", IntegerAttr(cal.samples)))
    else:
        inputs = tuple((k, _dense(a, f"calibration.{k}")) for k, a in cal.inputs.items())
        entries.append(("inputs", DictAttr(inputs)))
    if cal.labels is not None:
        entries.append((LABELS_KEY, _dense(cal.labels, "calibration.labels")))
    if cal.reference is not None:
        refs = (_dense(r, f"calibration.reference{i}") for i, r in enumerate(cal.reference))
        entries.append(("reference", ArrayAttr(tuple(refs))))
    module.attributes[CALIBRATION_ATTR] = DictAttr(tuple(entries))


def attached_calibration(module: ModuleOp) -> Calibration | None:
    """The calibration set recorded on the module, if any."""
    attr = module.attributes.get(CALIBRATION_ATTR)
    if not isinstance(attr, DictAttr):
        return None
    source = attr.get("source").value
    synthetic = attr.get("synthetic")
    if synthetic is not None:
        cal = synthetic_calibration(module, synthetic.value)
    else:
        cal = Calibration({k: v.array for k, v in attr.get("inputs").entries}, None, source)
    labels = attr.get(LABELS_KEY)
    cal.labels = None if labels is None else labels.array
    reference = attr.get("reference")
    cal.reference = None if reference is None else [r.array for r in reference.elements]
    return cal


def strip_calibration(module: ModuleOp) -> bool:
    """Remove the calibration set from the module; returns whether there was one."""
    return module.attributes.pop(CALIBRATION_ATTR, None) is not None


def _dense(array: np.ndarray, hint: str) -> DenseElementsAttr:
    # A copy: attributes freeze their array, and the caller's arrays must stay writable.
    return DenseElementsAttr.from_array(np.array(array, copy=True), hint=hint)


def make_calibration(module: ModuleOp, data) -> Calibration:
    """A Calibration from a path to an ``.npz`` file or a mapping of arrays."""
    if isinstance(data, Mapping):
        return _from_arrays(dict(data), "<dict>")
    from imcc.runtime.inputs import InputFileError, read_array_file

    path = str(data)
    if not os.path.exists(path):
        raise CalibrationError(f"{path}: no such calibration file")
    try:
        arrays = read_array_file(path)
    except InputFileError as exc:
        raise CalibrationError(f"calibration data: {exc}") from None
    if None in arrays:
        raise CalibrationError(
            f"{path}: calibration data is an .npz file with one array per model input name"
        )
    return _from_arrays(arrays, path)


def _from_arrays(arrays: dict, source: str) -> Calibration:
    arrays = {str(k): np.asarray(v) for k, v in arrays.items()}
    labels = arrays.pop(LABELS_KEY, None)
    if not arrays:
        raise CalibrationError(f"{source}: calibration data holds no input arrays")
    return Calibration(arrays, labels, source)


def check_calibration(module: ModuleOp, cal: Calibration) -> None:
    """Names, element types, sample counts and per-sample shapes against the model's inputs."""
    func = main_function(module)
    names = arg_names(func)
    where = cal.source
    missing = [n for n in names if n not in cal.inputs]
    unknown = sorted(set(cal.inputs) - set(names))
    if missing or unknown:
        parts = ([f"missing {missing}"] if missing else []) + (
            [f"unknown {unknown}"] if unknown else []
        )
        raise CalibrationError(
            f"{where}: calibration arrays do not match the model inputs {names}: {'; '.join(parts)}"
            f" (an extra '{LABELS_KEY}' array may hold labels)"
        )
    counts = set()
    for name, arg in zip(names, func.body.args):
        a, t = cal.inputs[name], arg.type
        if not isinstance(t, RankedTensorType):
            continue
        want = numpy_dtype(t.element_type)
        if a.dtype != want:
            raise CalibrationError(
                f"{where}: input '{name}' is {a.dtype}, the model expects {want} ({t})"
            )
        inner_ok = a.ndim == t.rank and all(
            d is None or d == s for d, s in zip(t.shape[1:], a.shape[1:])
        )
        if not inner_ok or a.shape[0] == 0:
            raise CalibrationError(
                f"{where}: input '{name}' has shape {list(a.shape)}; the model takes {t} "
                "(samples on the first axis)"
            )
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise CalibrationError(f"{where}: input '{name}' holds NaN or infinite values")
        counts.add(a.shape[0])
    if cal.labels is not None:
        counts.add(cal.labels.shape[0] if cal.labels.ndim == 1 else -1)
        if cal.labels.ndim != 1 or cal.labels.dtype.kind not in "iu":
            raise CalibrationError(f"{where}: '{LABELS_KEY}' must be a 1-D integer array")
    if len(counts) > 1:
        raise CalibrationError(f"{where}: calibration arrays disagree on the number of samples")


def synthetic_samples(module: ModuleOp) -> int:
    """How many synthetic samples: SYNTHETIC_SAMPLES, fewer for large inputs (see above)."""
    func = main_function(module)
    per = sum(
        int(np.prod([d or 1 for d in a.type.shape[1:]]))
        for a in func.body.args
        if isinstance(a.type, RankedTensorType)
    )
    return int(np.clip(SYNTHETIC_ELEMENTS // max(per, 1), SYNTHETIC_MIN_SAMPLES, SYNTHETIC_SAMPLES))


def synthetic_calibration(module: ModuleOp, samples: int | None = None) -> Calibration:
    """Seeded stand-in data from the input types: floats ~ N(0, 1); integer inputs named like
    masks are 1, like type ids 0, others uniform in 0..99 (token ids of a small vocabulary)."""
    func = main_function(module)
    samples = synthetic_samples(module) if samples is None else samples
    rng = np.random.default_rng(SYNTHETIC_SEED)
    inputs = {}
    for name, arg in zip(arg_names(func), func.body.args):
        t = arg.type
        shape = (samples, *[d or 1 for d in t.shape[1:]])
        dtype = numpy_dtype(t.element_type)
        lowered = name.lower()
        if dtype.kind == "f":
            inputs[name] = rng.standard_normal(shape).astype(dtype)
        elif "mask" in lowered:
            inputs[name] = np.ones(shape, dtype)
        elif "type" in lowered or dtype == np.bool_:
            inputs[name] = np.zeros(shape, dtype)
        else:
            inputs[name] = rng.integers(0, 100, size=shape).astype(dtype)
    return Calibration(inputs, None, "<synthetic>", synthetic=True)


def batches(module: ModuleOp, cal: Calibration) -> tuple[list[dict[str, np.ndarray]], list[int]]:
    """Cut the set into the model's batch size: a list of input dicts and, per chunk, how many
    leading samples are real (the last chunk wraps around to fill a static batch)."""
    func = main_function(module)
    names = arg_names(func)
    first = func.body.args[0].type if func.body.args else None
    batch = first.shape[0] if isinstance(first, RankedTensorType) and first.rank else None
    n = cal.samples
    size = n if batch is None else int(batch)
    chunks, valid = [], []
    for start in range(0, n, size):
        idx = np.arange(start, start + size) % n
        chunks.append({name: cal.inputs[name][idx] for name in names})
        valid.append(min(size, n - start))
    return chunks, valid
