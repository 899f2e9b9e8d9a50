"""Load, validate and fingerprint target descriptions (TOML presets or user files).

    >>> t = load_target("cluster")
    >>> t.cores.count, t.memory["L1"].size, t.arrays[0].kind
    (8, 524288, 'analog')

Every numeric value is converted to the canonical unit of `schema.SECTIONS`/`schema.ARRAY_PARAMS`
(bytes, ns, MHz, pJ, mm2, ...). Unknown keys, missing keys, wrong units, missing sources and values
out of range raise `TargetError` naming the file and the key.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from pathlib import Path

from .. import budget
from .errors import TargetError
from .overrides import apply_override, raw_from_doc
from .schema import (
    ARRAY_PARAMS,
    OPTIONAL_SECTIONS,
    SECTIONS,
    UNITS,
    Choice,
    Param,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PRESET_DIR = Path(__file__).resolve().parent
SCHEMA_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class Section(Mapping):
    """Read-only canonical parameter values of one section, readable as attributes.

    ``sources[key]`` holds the provenance string of each value and ``units[key]`` its unit.
    """

    def __init__(self, path: str, values: dict, sources: dict, units: dict):
        self._path = path
        self._values = values
        self.sources = sources
        self.units = units

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"target section '{self._path}' has no parameter '{name}'"
            ) from None

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Section({self._path!r}, {self._values!r})"


class ArrayGroup(Section):
    """A group of identical arrays; global array indices ``first .. first + count - 1``."""

    def __init__(self, path, values, sources, units, first: int):
        super().__init__(path, values, sources, units)
        self.first = first

    def __contains__(self, index) -> bool:
        if isinstance(index, int):
            return self.first <= index < self.first + self._values["count"]
        return super().__contains__(index)


class Target:
    """A validated target: canonical parameter sections plus fingerprints.

    ``fingerprint`` hashes the architectural parameters only (see `schema`); ``params_fingerprint``
    hashes every value, so a report can say exactly which cost parameters produced it.
    """

    def __init__(self, doc: dict, origin: str):
        self.origin = origin
        self._doc = doc
        self.name: str = doc["target"]["name"]["value"]
        self.summary: str = doc["target"]["summary"]["value"]
        sec = {path: _section(path, body) for path, body in doc.items() if path != "arrays"}
        self.clock = sec["clock"]
        self.memory = {"L2": sec["memory.L2"], "L1": sec["memory.L1"]}
        self.dma = sec["dma"]
        self.cores = sec["cores"]
        self.core_kernels = sec["cores.kernels"]
        self.dwunit = sec.get("dwunit")
        self.nlunit = sec.get("nlunit")
        self.nl_kernels = sec.get("nlunit.kernels")
        self.chip = sec["chip"]
        groups, first = [], 0
        for body in doc["arrays"]:
            name = body["name"]["value"]
            groups.append(ArrayGroup(f"arrays.{name}", *_split(body), first))
            first += body["count"]["value"]
        self.arrays: tuple[ArrayGroup, ...] = tuple(groups)
        self.n_arrays = first
        self._firsts = [g.first for g in groups]
        self.fingerprint = _sha256(self.canonical_text())
        self.params_fingerprint = _sha256(self.canonical_text(arch_only=False))

    # --- queries --------------------------------------------------------------------------
    def group_of(self, array: int) -> ArrayGroup:
        """The group holding global array index ``array`` (IndexError when out of range)."""
        if not 0 <= array < self.n_arrays:
            raise IndexError(f"array {array} out of range 0..{self.n_arrays - 1}")
        return self.arrays[bisect_right(self._firsts, array) - 1]

    def mem_size(self, space: str) -> int:
        """Size in bytes of memory space ``"L2"`` or ``"L1"``."""
        return self.memory[space].size

    def cycles(self, ns: float) -> float:
        """Convert a time in ns to (fractional) clock cycles."""
        return ns * self.clock.freq / 1e3

    def seconds(self, cycles: float) -> float:
        """Convert clock cycles to seconds."""
        return cycles / (self.clock.freq * 1e6)

    def canonical(self, arch_only: bool = False) -> dict:
        """The canonical values as plain JSON data (the fingerprints hash this)."""
        out: dict = {"schema": SCHEMA_VERSION}
        for path, body in self._doc.items():
            if path == "arrays":
                out["arrays"] = [_canon_body(b, _array_spec(b), arch_only) for b in body]
            else:
                out[path] = _canon_body(body, SECTIONS[path], arch_only)
        if arch_only:
            out.pop("target", None)
            out = {k: v for k, v in out.items() if v or k == "arrays"}
            # an optional unit's presence is architectural even when none of its values are
            for opt in OPTIONAL_SECTIONS:
                out[f"has:{opt}"] = opt in self._doc
        return out

    def canonical_text(self, arch_only: bool = True) -> str:
        """The canonical serialisation (sorted, compact JSON) that the fingerprints hash."""
        return json.dumps(
            self.canonical(arch_only), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )

    @property
    def fingerprint_bytes(self) -> bytes:
        """The fingerprint as prog.bin stores it: the first 16 bytes of the SHA-256."""
        return bytes.fromhex(self.fingerprint)[:16]

    def with_overrides(self, overrides: Mapping[str, object]) -> Target:
        """A copy with parameters replaced; keys like ``clock.freq`` or ``arrays.fat.addition``.

        Values are numbers (in the file's unit), ``"VALUE UNIT"`` strings, or strings for choices.
        """
        raw = raw_from_doc(json.loads(json.dumps(self._doc)))
        for key, value in overrides.items():
            apply_override(raw, key, value, self.origin)
        return _build(raw, self.origin)

    def describe(self) -> str:
        """A multi-line listing of every parameter with unit and source."""
        lines = [f"target {self.name}: {self.summary}", f"  fingerprint {self.fingerprint}"]
        for path, body in self._doc.items():
            if path == "target":
                continue
            for b in body if path == "arrays" else [body]:
                title = f"arrays.{b['name']['value']}" if path == "arrays" else path
                lines.append(f"  [{title}]")
                for key, item in b.items():
                    if not item["unit"]:
                        lines.append(f"    {key} = {item['value']}")
                        continue
                    value = item.get("given") or f"{item['value']} {item['unit']}"
                    lines.append(f"    {key + ' =':<24} {value:<14} # {item['source']}")
        return "\n".join(lines)

    def one_line(self) -> str:
        """A compact summary used by ``--list-targets``."""
        arrays = ", ".join(
            f"{g.count}x {g.kind} {g.rows}x{g.cols} [{g.cell_min}..{g.cell_max}]"
            for g in self.arrays
        )
        units = [f"{self.cores.count} cores"]
        units += ["dw unit"] if self.dwunit is not None else []
        units += ["nl unit"] if self.nlunit is not None else []
        return (
            f"{self.name:<10} {self.fingerprint[:12]}  {self.clock.freq:g} MHz, "
            f"L1 {_bytes(self.mem_size('L1'))}, L2 {_bytes(self.mem_size('L2'))}, "
            f"{', '.join(units)}; arrays: {arrays}\n{'':<24}{self.summary}"
        )

    def __repr__(self) -> str:
        return f"Target({self.name!r}, fingerprint={self.fingerprint[:12]})"


# --- public entry points --------------------------------------------------------------------


def list_targets() -> list[str]:
    """Names of the bundled presets, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_target(spec: str | Path, overrides: Mapping[str, object] | None = None) -> Target:
    """Load a preset by name or a TOML file by path, validate it and apply ``overrides``."""
    text_spec = str(spec)
    if isinstance(spec, Path) or text_spec.endswith(".toml") or "/" in text_spec:
        path = Path(spec)
    elif text_spec in list_targets():
        path = PRESET_DIR / f"{text_spec}.toml"
    else:
        known = ", ".join(list_targets())
        raise TargetError(f"unknown target '{spec}' (presets: {known}; or give a .toml file)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TargetError(f"{path}: cannot read: {err.strerror}") from None
    return loads_target(text, origin=str(path.name), overrides=overrides)


def loads_target(text: str, origin: str = "<string>", overrides=None) -> Target:
    """Parse and validate target TOML text (``origin`` names it in error messages)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise TargetError(f"{origin}: invalid TOML: {err}") from None
    if overrides:
        for key, value in overrides.items():
            apply_override(raw, key, value, origin)
    return _build(raw, origin)


def find_target(fingerprint: str | bytes) -> Target | None:
    """The first preset (by name) whose fingerprint is ``fingerprint`` (hex, or prog.bin bytes)."""
    for name in list_targets():
        target = load_target(name)
        if fingerprint in (target.fingerprint, target.fingerprint_bytes):
            return target
    return None


def format_target_list() -> str:
    """The human listing printed by ``--list-targets``."""
    return "\n".join(load_target(n).one_line() for n in list_targets())


# --- validation -----------------------------------------------------------------------------


def _build(raw: dict, origin: str) -> Target:
    doc = _validate(raw, origin)
    return Target(doc, origin)


def _validate(raw: dict, origin: str) -> dict:
    """Check ``raw`` against the schema; return {section path: {key: item}} with canonical values."""
    doc: dict = {}
    prefixes = {p.split(".")[0] for p in SECTIONS} | {"arrays"}
    for key in raw:
        if key not in prefixes:
            raise TargetError(f"{origin}: unknown key '{key}'")
    _collect_sections(raw, "", doc, origin)
    for path in SECTIONS:
        if path not in doc and path not in OPTIONAL_SECTIONS:
            raise TargetError(f"{origin}: missing section [{path}]")
    if ("nlunit" in doc) != ("nlunit.kernels" in doc):
        raise TargetError(f"{origin}: [nlunit] and [nlunit.kernels] go together")
    doc["arrays"] = _validate_arrays(raw.get("arrays"), origin)
    name = doc["target"]["name"]["value"]
    if not _NAME_RE.match(name):
        raise TargetError(f"{origin}: target.name: '{name}' may only use letters, digits, '-', '_'")
    _within_budget(doc, origin)
    return doc


def _within_budget(doc: dict, origin: str) -> None:
    """A simulated chip whose memories or array cells exceed what imcc may allocate is refused
    here, before anything allocates them."""
    try:
        for space in ("L2", "L1"):
            size = int(doc[f"memory.{space}"]["size"]["value"])
            budget.check(size, f"{origin}: memory.{space}.size")
        cells = sum(
            int(g["count"]["value"]) * int(g["rows"]["value"]) * int(g["cols"]["value"])
            for g in doc["arrays"]
        )
        # each cell: its int8 value and the float32 copy the fast path keeps
        budget.check(5 * cells, f"{origin}: the arrays' cells (count x rows x cols)")
    except budget.BudgetError as exc:
        raise TargetError(str(exc)) from None


def _collect_sections(table: dict, path: str, doc: dict, origin: str) -> None:
    for key, value in table.items():
        full = f"{path}.{key}" if path else key
        if full == "arrays":
            continue
        if full in SECTIONS or any(p.startswith(full + ".") for p in SECTIONS):
            if not isinstance(value, dict):
                raise TargetError(f"{origin}: '{full}' must be a table")
            _collect_sections(value, full, doc, origin)
            continue
        if path not in SECTIONS or key not in SECTIONS[path]:
            raise TargetError(f"{origin}: unknown key '{full}'")
    if path in SECTIONS:
        spec = SECTIONS[path]
        body = {k: v for k, v in table.items() if k in spec}
        doc[path] = _validate_body(body, spec, path, origin)


def _validate_arrays(groups, origin: str) -> list[dict]:
    if not isinstance(groups, list) or not groups:
        raise TargetError(f"{origin}: missing [[arrays]] (at least one array group)")
    out, names = [], set()
    for i, body in enumerate(groups):
        where = f"arrays[{i}]"
        if not isinstance(body, dict):
            raise TargetError(f"{origin}: {where} must be a table")
        kind = body.get("kind")
        if kind not in ARRAY_PARAMS:
            raise TargetError(f"{origin}: {where}.kind: must be one of {', '.join(ARRAY_PARAMS)}")
        spec = ARRAY_PARAMS[kind]
        for key in body:
            if key not in spec:
                raise TargetError(f"{origin}: unknown key '{where}.{key}' for a {kind} array")
        group = _validate_body(body, spec, where, origin)
        name = group["name"]["value"]
        if name in names:
            raise TargetError(f"{origin}: {where}.name: duplicate group name '{name}'")
        names.add(name)
        if kind == "digital" and (
            group["cell_min"]["value"] < -1 or group["cell_max"]["value"] > 1
        ):
            raise TargetError(f"{origin}: {where}.cell_min/cell_max: digital arrays are ternary")
        out.append(group)
    return out


def _validate_body(body: dict, spec: dict, path: str, origin: str) -> dict:
    out = {}
    for key, pspec in spec.items():
        where = f"{origin}: {path}.{key}"
        if key not in body:
            if pspec.default is None:
                raise TargetError(f"{where}: missing (required)")
            out[key] = _default_item(pspec)
            continue
        if isinstance(pspec, Choice):
            out[key] = _choice(body[key], pspec, where)
        else:
            out[key] = _param(body[key], pspec, where)
    return out


def _choice(value, spec: Choice, where: str) -> dict:
    if not isinstance(value, str) or not value:
        raise TargetError(f"{where}: expected a non-empty string")
    if spec.choices is not None and value not in spec.choices:
        raise TargetError(f"{where}: '{value}' is not one of {', '.join(spec.choices)}")
    return {"value": value, "unit": "", "source": "name"}


def _param(item, spec: Param, where: str) -> dict:
    if not isinstance(item, dict):
        raise TargetError(
            f'{where}: expected {{ value = ..., unit = "{spec.unit}", source = ... }}'
        )
    extra = sorted(set(item) - {"value", "unit", "source"})
    if extra:
        raise TargetError(f"{where}: unknown key '{extra[0]}' (allowed: value, unit, source)")
    value, unit, source = item.get("value"), item.get("unit"), item.get("source")
    if not isinstance(source, str) or not source.strip():
        raise TargetError(f"{where}: missing source (a paper figure, or 'assumed')")
    if unit not in UNITS:
        raise TargetError(f"{where}: unknown unit {unit!r} (expected {spec.unit})")
    if UNITS[unit][0] != spec.dimension:
        raise TargetError(
            f"{where}: unit '{unit}' is not a {spec.dimension} unit (use {spec.unit})"
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TargetError(f"{where}: value must be a finite number")
    canon = value * UNITS[unit][1] / UNITS[spec.unit][1]
    if spec.integer:
        if abs(canon - round(canon)) > 1e-9 * max(1.0, abs(canon)):
            raise TargetError(f"{where}: must be a whole number of {spec.unit}, got {canon:g}")
        canon = int(round(canon))
    else:
        canon = float(canon)
    _check_range(canon, spec, where)
    return {"value": canon, "unit": spec.unit, "source": source.strip(), "given": f"{value} {unit}"}


def _check_range(v, spec: Param, where: str) -> None:
    if spec.lo is not None and (v <= spec.lo if spec.lo_open else v < spec.lo):
        op = ">" if spec.lo_open else ">="
        raise TargetError(f"{where}: {v:g} {spec.unit} is impossible (must be {op} {spec.lo:g})")
    if spec.hi is not None and v > spec.hi:
        raise TargetError(f"{where}: {v:g} {spec.unit} is impossible (must be <= {spec.hi:g})")


def _default_item(spec) -> dict:
    unit = "" if isinstance(spec, Choice) else spec.unit
    return {"value": spec.default, "unit": unit, "source": "default"}


def _section(path: str, body: dict) -> Section:
    return Section(path, *_split(body))


def _split(body: dict) -> tuple[dict, dict, dict]:
    values = {k: v["value"] for k, v in body.items()}
    sources = {k: v["source"] for k, v in body.items()}
    units = {k: v["unit"] for k, v in body.items()}
    return values, sources, units


def _array_spec(body: dict) -> dict:
    return ARRAY_PARAMS[body["kind"]["value"]]


def _canon_body(body: dict, spec: dict, arch_only: bool) -> dict:
    return {k: body[k]["value"] for k in sorted(body) if not arch_only or spec[k].arch}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"
