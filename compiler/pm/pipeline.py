"""Pipeline strings: ``canonicalize,cse{max-iter=3},ternarize{planes=2 rule=l2}``.

Passes are separated by commas; options sit in braces as space-separated ``key=value`` pairs.
``print_pipeline(parse_pipeline(s))`` gives back a canonical spelling (default-valued options dropped).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re

from ..ir.diagnostics import FileLineColLoc, IRError
from .pass_base import PASS_REGISTRY, Pass, lookup_pass

_ITEM_RE = re.compile(r"\s*([A-Za-z0-9_.\-]+)\s*(\{([^{}]*)\})?\s*$")


class PipelineError(IRError):
    """A malformed pipeline string, unknown pass or bad option."""


def _split_top_level(text: str) -> list[tuple[int, str]]:
    """Split at top-level commas; each item comes with its 0-based start column."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise _error("unbalanced '}'", text, i)
        elif ch == "," and depth == 0:
            items.append((start, text[start:i]))
            start = i + 1
    if depth:
        raise _error("unbalanced '{'", text, len(text))
    items.append((start, text[start:]))
    return items


def _error(message: str, text: str, col: int) -> PipelineError:
    return PipelineError(message, FileLineColLoc("<pipeline>", 1, col + 1), text)


def _convert(pass_name: str, field: dataclasses.Field, raw: str):
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "str")
    option = Pass.option_name(field)
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "on", "yes"):
                return True
            if raw.lower() in ("0", "false", "off", "no"):
                return False
            raise ValueError
        if kind == "int":
            return int(raw, 0)
        if kind == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
        return raw
    except ValueError:
        raise PipelineError(
            f"option '{option}' of pass '{pass_name}' expects "
            f"{'a finite float' if kind == 'float' else kind}, got '{raw}'"
        ) from None


def parse_pass(text: str, pipeline: str | None = None, col: int = 0) -> Pass:
    """Parse one ``name{opts}`` element; ``pipeline``/``col`` place errors in the whole string."""
    try:
        return _parse_pass(text)
    except PipelineError as exc:
        lead = len(text) - len(text.lstrip())
        raise _error(exc.message, pipeline or text, col + lead) from None


def _parse_pass(text: str) -> Pass:
    m = _ITEM_RE.fullmatch(text)
    if not m or not m.group(1):
        raise PipelineError(f"malformed pipeline element '{text.strip()}'")
    name, options = m.group(1), m.group(3)
    cls = lookup_pass(name)
    if cls is None:
        hint = difflib.get_close_matches(name, sorted(PASS_REGISTRY), n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else " (see --list-passes)"
        raise PipelineError(f"unknown pass '{name}'{extra}")
    fields = {Pass.option_name(f): f for f in cls.options()}
    kwargs = {}
    for item in (options or "").split():
        key, eq, raw = item.partition("=")
        if not eq:
            raise PipelineError(f"option '{key}' of pass '{name}' needs a value (key=value)")
        field = fields.get(key)
        if field is None:
            known = ", ".join(fields) or "none"
            raise PipelineError(f"pass '{name}' has no option '{key}' (options: {known})")
        kwargs[field.name] = _convert(name, field, raw)
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a pass's __post_init__ rejecting an option value
        raise PipelineError(f"pass '{name}': {exc}") from None


def parse_pipeline(text: str) -> list[Pass]:
    """Parse a pipeline string into pass instances (empty string → no passes)."""
    if not text.strip():
        return []
    return [parse_pass(item, text, col) for col, item in _split_top_level(text)]


def _format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def print_pass(p: Pass) -> str:
    opts = p.non_default_options()
    if not opts:
        return p.name
    return p.name + "{" + " ".join(f"{k}={_format_value(v)}" for k, v in opts.items()) + "}"


def print_pipeline(passes: list[Pass]) -> str:
    return ",".join(print_pass(p) for p in passes)
