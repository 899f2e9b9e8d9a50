"""Parameter overrides (``--set KEY=VALUE``) applied to raw, TOML-shaped target data.

Keys are dotted paths: ``clock.freq``, ``cores.kernels.softmax``, ``arrays.GROUP.PARAM``. A value is
a number (in the parameter's current unit), ``"VALUE UNIT"``, or a string for choice parameters.
The result is validated again by the loader like any file.
"""

from __future__ import annotations

import re

from .errors import TargetError
from .schema import ARRAY_PARAMS, OPTIONAL_SECTIONS, SECTIONS, Param

#: The value that removes an optional unit (``--set dwunit=none``: a cluster without it).
REMOVE = "none"


def raw_from_doc(doc: dict) -> dict:
    """Turn a validated doc back into raw TOML-shaped data (canonical units)."""
    raw: dict = {}
    for path, body in doc.items():
        if path == "arrays":
            raw["arrays"] = [_raw_body(b) for b in body]
            continue
        node = raw
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.update(_raw_body(body))
    return raw


def _raw_body(body: dict) -> dict:
    out = {}
    for key, item in body.items():
        if item["unit"] == "":
            out[key] = item["value"]
        elif item["value"] is not None:
            out[key] = {"value": item["value"], "unit": item["unit"], "source": item["source"]}
    return out


def apply_override(raw: dict, key: str, value, origin: str) -> None:
    """Set ``key`` to ``value`` in ``raw`` (source "override"); TargetError if the key is malformed.

    An optional section set to ``none`` (``dwunit=none``, ``nlunit=none``) is removed: the
    target without that unit, for what-if studies."""
    parts = key.split(".")
    if key in OPTIONAL_SECTIONS and str(value).strip() == REMOVE:
        node = raw
        for part in parts[:-1]:
            node = node.get(part, {})
        node.pop(parts[-1], None)
        return
    if parts[0] == "arrays":
        if len(parts) != 3:
            raise TargetError(f"{origin}: override '{key}': use arrays.GROUP.PARAM")
        groups = [g for g in raw.get("arrays", []) if g.get("name") == parts[1]]
        if not groups:
            raise TargetError(f"{origin}: override '{key}': no array group '{parts[1]}'")
        node, leaf = groups[0], parts[2]
    else:
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise TargetError(f"{origin}: override '{key}': not a section")
        leaf = parts[-1]
    old = node.get(leaf)
    if isinstance(value, str):
        value = value.strip()
    if isinstance(old, str) or (old is None and isinstance(value, str) and not _numeric(value)):
        node[leaf] = value
        return
    number, unit = _parse_number(value, key, origin)
    if unit is None and isinstance(old, dict):
        unit = old.get("unit")
    if unit is None:  # a parameter left at its default: its canonical unit
        unit = _schema_unit(node, parts)
    node[leaf] = {"value": number, "unit": unit, "source": "override"}


def _schema_unit(node: dict, parts: list[str]) -> str | None:
    if parts[0] == "arrays":
        spec = ARRAY_PARAMS.get(node.get("kind"), {})
    else:
        spec = SECTIONS.get(".".join(parts[:-1]), {})
    param = spec.get(parts[-1])
    return param.unit if isinstance(param, Param) else None


def _numeric(text: str) -> bool:
    return bool(re.match(r"^[-+]?(\d|\.\d)", text))


def _parse_number(value, key: str, origin: str):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value, None
    m = re.match(r"^([-+]?[0-9.eE+-]+)\s*([A-Za-z/0-9]*)$", str(value))
    if not m:
        raise TargetError(f"{origin}: override '{key}': cannot read '{value}' as a number")
    text, unit = m.groups()
    try:
        number = int(text) if re.match(r"^[-+]?\d+$", text) else float(text)
    except ValueError:
        raise TargetError(f"{origin}: override '{key}': cannot read '{value}'") from None
    return number, unit or None
