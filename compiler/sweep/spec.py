"""The sweep file and the points it expands to.

A sweep file is TOML::

    [sweep]
    name = "digits-arrays"
    target = "cluster"                 # a preset or a target file; or targets = [...]
    precision = ["int8", "ternary"]    # one or a list
    attention = "auto"                 # where attention's products run: dynamic-arrays | cores

    [[models]]
    name = "digits-cnn"
    path = "digits_cnn.onnx"           # every path is relative to the sweep file, inside its folder
    inputs = "digits-test.npz"         # arrays by input name, samples first; 'labels' -> accuracy
    calibration = "digits-calib.npz"   # optional

    [grid]                             # every combination of these target parameters
    "arrays.ima.count" = [16, 64]
    "arrays.ima.adc_bits" = [6, 8]

    [[points]]                         # and/or explicit parameter sets, one point each
    "arrays.ima.count" = 128

The points are models × targets × precisions × parameter sets (the grid's combinations, then the
listed points; neither: the target as it is), in that order. A point's id hashes what defines it,
so a resumed sweep recognises the points it has finished even if others were added.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from imcc.runtime.fileio import read_file

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..precision.pipeline import ATTENTION_PLACEMENTS, PRECISIONS

SECTIONS = {"sweep", "models", "grid", "points"}
SWEEP_KEYS = {"name", "target", "targets", "precision", "attention"}
MODEL_KEYS = {"name", "path", "inputs", "calibration"}
VALUE_TYPES = (int, float, str, bool)
#: The most points one sweep file may expand to (a grid's size is checked before it is built).
MAX_POINTS = 100_000


class SweepError(Exception):
    """A sweep file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Model:
    name: str
    path: str
    inputs: str | None = None
    calibration: str | None = None


@dataclass(frozen=True)
class Point:
    """One compilation and run: plain data, sent as is to a worker."""

    index: int
    model: Model
    target: str
    precision: str
    attention: str
    params: tuple[tuple[str, object], ...]

    @property
    def id(self) -> str:
        """Stable across runs and machines: a hash of what defines the point (the model by its
        name, so moving the folder keeps the ids)."""
        text = json.dumps(
            [self.model.name, self.target, self.precision, self.attention, list(self.params)],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Sweep:
    path: Path
    name: str
    points: tuple[Point, ...]
    param_keys: tuple[str, ...]


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read, check and expand the sweep file ``path``."""
    path = Path(path)
    try:
        doc = tomllib.loads(read_file(path).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SweepError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{path}: {exc}") from None
    where = str(path)
    _only(doc, SECTIONS, where)
    head = doc.get("sweep", {})
    _table(head, f"{where}: [sweep]")
    _only(head, SWEEP_KEYS, f"{where}: [sweep]")
    name = _str(head.get("name", path.stem), f"{where}: sweep.name")
    if "target" in head and "targets" in head:
        raise SweepError(f"{where}: [sweep] has both 'target' and 'targets'; give one")
    targets = _list(head.get("targets", head.get("target", "cluster")), f"{where}: sweep.targets")
    for i, t in enumerate(targets):
        _str(t, f"{where}: sweep.targets[{i}]")
        if t.endswith(".toml"):
            _inside(path, t, f"{where}: sweep.targets[{i}]")
    precisions = _list(head.get("precision", "ternary"), f"{where}: sweep.precision")
    for i, p in enumerate(precisions):
        if p not in PRECISIONS:
            raise SweepError(
                f"{where}: sweep.precision[{i}]: unknown precision {p!r} "
                f"(expected one of {', '.join(PRECISIONS)})"
            )
    attention = _str(head.get("attention", "auto"), f"{where}: sweep.attention")
    if attention not in ATTENTION_PLACEMENTS:
        raise SweepError(
            f"{where}: sweep.attention: unknown placement {attention!r} (expected one of "
            f"{', '.join(ATTENTION_PLACEMENTS)})"
        )
    models = _models(doc.get("models"), path)
    param_sets, keys = _param_sets(doc, where, len(models) * len(targets) * len(precisions))
    points = [
        Point(i, model, target, precision, attention, params)
        for i, (model, target, precision, params) in enumerate(
            itertools.product(models, targets, precisions, param_sets)
        )
    ]
    ids = [p.id for p in points]
    if len(set(ids)) != len(ids):
        raise SweepError(f"{where}: two points are the same (a repeated model, target or value)")
    return Sweep(path, name, tuple(points), keys)


def _models(entries, path: Path) -> list[Model]:
    where = f"{path}: [[models]]"
    if not isinstance(entries, list) or not entries:
        raise SweepError(f"{where}: give at least one model ([[models]] with a path)")
    out, names = [], set()
    for i, entry in enumerate(entries):
        here = f"{path}: models[{i}]"
        _table(entry, here)
        _only(entry, MODEL_KEYS, here)
        if "path" not in entry:
            raise SweepError(f"{here}: missing 'path'")
        files = {
            key: _inside(path, _str(entry[key], f"{here}.{key}"), f"{here}.{key}")
            for key in ("path", "inputs", "calibration")
            if key in entry
        }
        name = _str(entry.get("name", Path(files["path"]).stem), f"{here}.name")
        if name in names:
            raise SweepError(f"{here}: the name {name!r} is used twice")
        names.add(name)
        out.append(Model(name, files["path"], files.get("inputs"), files.get("calibration")))
    return out


def _param_sets(doc: dict, where: str, each: int) -> tuple[list[tuple], tuple[str, ...]]:
    """The parameter sets (grid combinations, then listed points) and every key they set;
    ``each``: points per parameter set, to refuse a sweep too large before building it."""
    grid = doc.get("grid", {})
    _table(grid, f"{where}: [grid]")
    listed = doc.get("points", [])
    if not isinstance(listed, list):
        raise SweepError(f"{where}: 'points' must be an array of tables ([[points]])")
    keys: list[str] = []
    sets: list[tuple] = []
    axes = []
    for key, values in grid.items():
        values = _list(values, f"{where}: grid.{key}")
        if not values:
            raise SweepError(f"{where}: grid.{key} is empty")
        for v in values:
            _value(v, f"{where}: grid.{key}")
        axes.append([(key, v) for v in values])
        keys.append(key)
    total = each * ((math.prod(map(len, axes)) if axes else 0) + len(listed) or 1)
    if total > MAX_POINTS:
        raise SweepError(
            f"{where}: the sweep has {total:,} points, more than {MAX_POINTS:,}; split it into "
            "several sweep files"
        )
    if axes:
        sets += [tuple(combo) for combo in itertools.product(*axes)]
    for i, entry in enumerate(listed):
        _table(entry, f"{where}: points[{i}]")
        for key, v in entry.items():
            _value(v, f"{where}: points[{i}].{key}")
            if key not in keys:
                keys.append(key)
        sets.append(tuple(entry.items()))
    return sets or [()], tuple(keys)


def _inside(sweep: Path, rel: str, where: str) -> str:
    """``rel`` as written, once checked to name a file inside the sweep file's folder."""
    if os.path.isabs(rel):
        raise SweepError(f"{where}: {rel!r} must be relative to the sweep file's folder")
    base = sweep.resolve().parent
    full = (base / rel).resolve()
    if not full.is_relative_to(base):
        raise SweepError(f"{where}: {rel!r} leaves the sweep file's folder")
    return rel


def _only(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SweepError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )


def _table(value, where: str) -> None:
    if not isinstance(value, dict):
        raise SweepError(f"{where}: must be a table")


def _str(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SweepError(f"{where}: must be a non-empty string")
    return value


def _list(value, where: str) -> list:
    return value if isinstance(value, list) else [value]


def _value(value, where: str) -> None:
    if not isinstance(value, VALUE_TYPES):
        raise SweepError(f"{where}: a parameter value is a number or a string")
