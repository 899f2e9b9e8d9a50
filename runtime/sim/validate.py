"""Everything a run checks before its first instruction, and the error it raises.

The target (resolved from the binary's name and fingerprint unless given, with the overrides the
binary records), the mode, seed and drift time, every instruction's footprint against the target,
the tensor table against the memories, and the inputs' names, shapes and dtypes. Problems raise
`RunError` with one line naming what is wrong. `Session` and `run_program` both start here.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

import numpy as np

from ..isa.errors import ProgramError
from ..isa.program import TARGET_RE, Program
from ..isa.table import PACKED
from ..targets import Target, TargetError, find_target, load_target, loads_target
from ..targets.loader import PRESET_DIR
from .machine.footprint import CheckError, check_program
from .machine.machine import MODES, np_dtype


class RunError(Exception):
    """A user-facing error of a run: bad program, target, inputs, or a run-time fault."""


def resolve_target(program: Program, target=None, overrides=None) -> Target:
    """The target to run ``program`` on: ``target`` (name, path or Target) or the binary's own.

    A binary with a non-zero fingerprint only runs on a target whose architectural fingerprint
    matches; cost-only ``overrides`` keep the fingerprint.
    """
    try:
        if isinstance(target, Target):
            chosen = target
        elif isinstance(target, str) and _is_preset(target):
            chosen = _preset(target)
        elif target is not None:
            chosen = load_target(target)
        else:
            chosen = _own_target(program)
        if overrides:
            chosen = chosen.with_overrides(overrides)
    except TargetError as err:
        raise RunError(str(err)) from None
    stored = program.fingerprint
    if any(stored) and stored != chosen.fingerprint_bytes:
        raise RunError(
            f"the program was built for target '{program.target}' with fingerprint "
            f"{stored.hex()}, but target '{chosen.name}' has {chosen.fingerprint_bytes.hex()} "
            "(different memories, arrays or units): rebuild the program for this target"
        )
    return chosen


# Parsed presets by name, with the text they were parsed from: parsing and validating a preset
# takes milliseconds, as long as a whole small inference, so repeated runs reuse it.
_PRESETS: dict[str, tuple[str, Target]] = {}


def _is_preset(name: str) -> bool:
    """Whether ``name`` names a bundled preset (what `list_targets` lists, without the glob)."""
    return bool(TARGET_RE.fullmatch(name)) and (PRESET_DIR / f"{name}.toml").is_file()


def _preset(name: str) -> Target:
    """The bundled preset ``name``, parsed again only when its file changed."""
    path = PRESET_DIR / f"{name}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return load_target(name)  # let the loader word the error
    cached = _PRESETS.get(name)
    if cached is None or cached[0] != text:
        cached = _PRESETS[name] = (text, loads_target(text, origin=path.name))
    return cached[1]


def _own_target(program: Program) -> Target:
    """The preset a binary names (with the parameter overrides it was compiled with, which its
    meta section records: architectural ones and cost-only ones alike, since the compiler's
    decisions used them), or failing that the preset with its fingerprint."""
    if _is_preset(program.target):
        chosen = _preset(program.target)
        overrides = _recorded_overrides(program)
        return chosen.with_overrides(overrides) if overrides else chosen
    found = find_target(program.fingerprint) if any(program.fingerprint) else None
    if found is not None:
        return found
    what = f"target '{program.target}', which is not a preset" if program.target else "no target"
    raise RunError(f"the program names {what}: pass one (--target NAME or FILE.toml)")


def _recorded_overrides(program: Program) -> dict[str, str]:
    """The ``--set`` overrides the compiler recorded (meta ``target_overrides``), or none."""
    text = program.meta.get("target_overrides", "")
    try:
        value = ast.literal_eval(text) if text else {}
    except (ValueError, SyntaxError):
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return {}
    return {str(k): v for k, v in value.items()}


def check_inputs(program: Program, inputs) -> dict[str, np.ndarray]:
    """Match ``inputs`` (dict by name, or a sequence in program order) to the input tensors."""
    wanted = [t for t in program.tensors if t.role == "input"]
    names = [t.name for t in wanted]
    if inputs is None:
        inputs = {}
    if isinstance(inputs, np.ndarray):  # a lone array is the only input, not a list of rows
        inputs = [inputs]
    if not isinstance(inputs, Mapping):
        inputs = list(inputs)
        if len(inputs) > len(wanted):
            raise RunError(f"{len(inputs)} inputs given, the program takes {len(wanted)}")
        inputs = dict(zip(names, inputs))
    for name in inputs:
        if name not in names:
            raise RunError(f"unknown input '{name}' (program inputs: {', '.join(names) or 'none'})")
    out = {}
    for t in wanted:
        if t.name not in inputs:
            raise RunError(f"missing input '{t.name}' ({t.dtype}{list(t.shape)})")
        out[t.name] = _coerce(t, np.asarray(inputs[t.name]))
    return out


def _coerce(t, value: np.ndarray) -> np.ndarray:
    """``value`` in the tensor's dtype: exact match, or integers that fit an integer dtype."""
    if t.dtype in PACKED:
        raise RunError(f"input '{t.name}' has storage-only dtype {t.dtype}")
    want = np_dtype(t.dtype)
    if tuple(value.shape) != tuple(t.shape):
        raise RunError(f"input '{t.name}': shape {list(value.shape)}, expected {list(t.shape)}")
    if value.dtype == want:
        return value
    if value.dtype.kind in "iub" and want.kind in "iu":
        info = np.iinfo(want)
        if value.size == 0 or (value.min() >= info.min and value.max() <= info.max):
            return value.astype(want)
        raise RunError(
            f"input '{t.name}': values outside the {t.dtype} range {info.min}..{info.max}"
        )
    raise RunError(f"input '{t.name}': dtype {value.dtype}, expected {want.name} ({t.dtype})")


def validate(
    program: Program, target=None, overrides=None, mode="adc", drift_time=None, seed=0
) -> tuple[Target, list]:
    """Every check a run needs except the inputs': returns (target, footprints)."""
    if not isinstance(seed, int) or seed < 0:
        raise RunError(f"seed must be a non-negative integer, got {seed!r}")
    if mode not in MODES:
        raise RunError(f"unknown mode '{mode}' (expected one of {', '.join(MODES)})")
    if mode == "drift" and drift_time is None:
        raise RunError("mode 'drift' needs a drift time (--drift-time SECONDS)")
    if drift_time is not None and (mode != "drift" or not drift_time >= 0):
        raise RunError("a drift time needs mode 'drift' and must be >= 0 seconds")
    chosen = resolve_target(program, target, overrides)
    try:
        program.check_memory({"L2": chosen.mem_size("L2"), "L1": chosen.mem_size("L1")})
        footprints = check_program(program, chosen)
    except (ProgramError, CheckError) as err:
        raise RunError(f"does not fit target '{chosen.name}': {err}") from None
    for t in program.tensors:
        if t.role == "output" and t.dtype in PACKED:
            raise RunError(f"output '{t.name}' has storage-only dtype {t.dtype}")
    return chosen, footprints


def prepare(
    program: Program, inputs, target=None, overrides=None, mode="adc", drift_time=None, seed=0
):
    """Every check a run needs, without running: returns (target, footprints, inputs)."""
    chosen, footprints = validate(program, target, overrides, mode, drift_time, seed)
    return chosen, footprints, check_inputs(program, inputs)
