"""What a target description may contain: every section, every parameter, its unit and its range.

A target file is TOML. Each numeric parameter is an inline table ``{ value, unit, source }``: the
unit must belong to the parameter's dimension (``KiB`` or ``MiB`` for a size, ``ns`` or ``us`` for a
time, ...) and is converted to the canonical unit named here; ``source`` names the paper figure the
value comes from or says ``assumed``. A few parameters are plain strings (names, kinds, modes).

Parameters marked ``arch`` change what a binary means or whether it is valid (memory sizes, array
geometry, cell ranges, ADC bits, core count, which units exist); they make up the target's
fingerprint. Timing, energy, area and noise parameters do not: a binary runs unchanged when only they
differ, which is what what-if studies (e.g. the FAT ``parapim`` baseline) rely on.
"""

from __future__ import annotations

from dataclasses import dataclass

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "B": ("bytes", 1),
    "KiB": ("bytes", 1 << 10),
    "MiB": ("bytes", 1 << 20),
    "GiB": ("bytes", 1 << 30),
    "ps": ("time", 1e-3),
    "ns": ("time", 1),
    "us": ("time", 1e3),
    "ms": ("time", 1e6),
    "s": ("time", 1e9),
    "MHz": ("frequency", 1),
    "GHz": ("frequency", 1e3),
    "fJ": ("energy", 1e-3),
    "pJ": ("energy", 1),
    "nJ": ("energy", 1e3),
    "uW": ("power", 1e-3),
    "mW": ("power", 1),
    "W": ("power", 1e3),
    "um2": ("area", 1e-6),
    "mm2": ("area", 1),
    "cycles": ("cycles", 1),
    "B/cycle": ("bandwidth", 1),
    "cycles/elem": ("cycles_per_elem", 1),
    "cycles/MAC": ("cycles_per_mac", 1),
    "cycles/B": ("cycles_per_byte", 1),
    "MAC/cycle": ("macs_per_cycle", 1),
    "elem/cycle": ("elems_per_cycle", 1),
    "bits": ("bits", 1),
    "cycles/bit": ("cycles_per_bit", 1),
    "level": ("level", 1),
    "count": ("count", 1),
    "ratio": ("ratio", 1),
}


@dataclass(frozen=True)
class Param:
    """One numeric parameter: canonical ``unit``, integer or real, allowed range, default.

    ``default=None`` makes it required. ``lo``/``hi`` are inclusive bounds in the canonical unit;
    ``lo_open`` makes the lower bound exclusive (strictly positive quantities).
    """

    unit: str
    doc: str
    integer: bool = False
    lo: float | None = 0
    hi: float | None = None
    lo_open: bool = False
    default: float | None = None
    arch: bool = False

    @property
    def dimension(self) -> str:
        """The physical dimension, which decides the units a file may use."""
        return UNITS[self.unit][0]


@dataclass(frozen=True)
class Choice:
    """A plain string parameter restricted to ``choices`` (``None``: any non-empty string)."""

    doc: str
    choices: tuple[str, ...] | None = None
    default: str | None = None
    arch: bool = False


def _pos(unit, doc, **kw) -> Param:
    return Param(unit, doc, lo_open=True, **kw)


def _count(doc, **kw) -> Param:
    return Param("count", doc, integer=True, lo=1, **kw)


def _energy(doc) -> Param:
    return Param("pJ", doc, default=0.0)


def _area(doc) -> Param:
    return Param("mm2", doc, default=0.0)


# Cluster-core kernels: the unit of work each is costed by (the cost model divides by ncores).
CORE_KERNELS: dict[str, tuple[str, str]] = {
    "softmax": ("cycles/elem", "input element (max, exp, sum and divide)"),
    "layernorm": ("cycles/elem", "input element (two passes and the affine step)"),
    "gelu": ("cycles/elem", "element"),
    "sigmoid": ("cycles/elem", "element"),
    "tanh": ("cycles/elem", "element"),
    "exp": ("cycles/elem", "element"),
    "requant": ("cycles/elem", "element"),
    "quant": ("cycles/elem", "element"),
    "eltwise": ("cycles/elem", "element"),
    "pool": ("cycles/elem", "window tap (output elements x kh x kw)"),
    "dwconv": ("cycles/MAC", "multiply-accumulate"),
    "matmul_i8": ("cycles/MAC", "multiply-accumulate on int8 operands"),
    "matmul_f32": ("cycles/MAC", "multiply-accumulate on float32 operands"),
    "transpose": ("cycles/elem", "element"),
    "copy": ("cycles/B", "byte"),
    "gather": ("cycles/B", "byte copied"),
}

NL_KERNELS = (
    "softmax", "layernorm", "gelu", "sigmoid", "tanh", "exp", "requant", "quant", "eltwise"
)  # fmt: skip

SECTIONS: dict[str, dict[str, Param | Choice]] = {
    "target": {
        "name": Choice("preset name (letters, digits, '-', '_')", arch=True),
        "summary": Choice("one-line description"),
    },
    "clock": {"freq": _pos("MHz", "clock of every unit on the chip")},
    "memory.L2": {
        "size": Param("B", "main memory size", integer=True, lo=1, arch=True),
        "energy_per_byte": _energy("energy per byte read or written"),
        "area": _area("area (0 when the memory sits outside the modelled chip)"),
    },
    "memory.L1": {
        "size": Param("B", "cluster scratchpad (TCDM) size", integer=True, lo=1, arch=True),
        "energy_per_byte": _energy("energy per byte read or written"),
        "area": _area("area"),
    },
    "dma": {
        "count": _count("DMA engines (copies run on the first free one)"),
        "bandwidth": _pos("B/cycle", "bytes moved per cycle by one engine"),
        "setup": Param("cycles", "cycles to start one transfer"),
        "row_overhead": Param("cycles", "extra cycles per 2-D row", default=0.0),
        "energy_per_byte": _energy(
            "engine energy per byte moved (memory access energy is separate)"
        ),
        "area": _area("area of all engines"),
    },
    "cores": {
        "count": _count("RISC-V cores in the cluster", arch=True),
        "setup": Param("cycles", "fork/join overhead per kernel"),
        "energy_per_cycle": _energy("energy per active core per cycle"),
        "area": _area("area of one core"),
    },
    "cores.kernels": {
        k: Param(unit, f"cycles per {what} on one core", lo_open=True)
        for k, (unit, what) in CORE_KERNELS.items()
    },
    "dwunit": {
        "macs_per_cycle": _pos("MAC/cycle", "depthwise multiply-accumulates per cycle"),
        "setup": Param("cycles", "cycles to configure one job"),
        "energy_per_mac": _energy("energy per multiply-accumulate"),
        "area": _area("area"),
    },
    "nlunit": {
        "setup": Param("cycles", "cycles to configure one job"),
        "energy_per_elem": _energy("energy per element processed"),
        "area": _area("area"),
    },
    "nlunit.kernels": {
        k: Param("cycles/elem", f"cycles per element of {k}", lo_open=True) for k in NL_KERNELS
    },
    "chip": {
        "static_power": Param("mW", "leakage of the whole chip, charged over the run time"),
        "issue_cycles": Param(
            "cycles", "cycles the controller takes to dispatch one instruction", default=1.0
        ),
        "other_area": _area("interconnect, control and anything not listed as a unit"),
    },
}

# Sections a target may leave out (the unit is then absent and its instructions are rejected).
OPTIONAL_SECTIONS = ("dwunit", "nlunit", "nlunit.kernels")

ARRAY_KINDS = ("analog", "dynamic", "digital")

_ARRAY_COMMON: dict[str, Param | Choice] = {
    "name": Choice("group name, unique in the target"),
    "kind": Choice("array kind", ARRAY_KINDS, arch=True),
    "count": _count("arrays in the group", arch=True),
    "rows": Param("count", "rows (input vector length)", integer=True, lo=1, arch=True),
    "cols": Param("count", "columns (output vector length)", integer=True, lo=1, arch=True),
    "cell_min": Param("level", "smallest cell value", integer=True, lo=-128, hi=0, arch=True),
    "cell_max": Param("level", "largest cell value", integer=True, lo=0, hi=127, arch=True),
    "write_time": _pos("ns", "time to write one group of write_width cells"),
    "write_width": _count("cells written per write_time"),
    "energy_write": _energy("energy per cell written"),
    "area": _area("area of one array with its periphery"),
}

_ANALOG: dict[str, Param | Choice] = {
    "dac_bits": Param("bits", "DAC resolution", integer=True, lo=1, hi=16, arch=True),
    "adc_bits": Param("bits", "ADC resolution (signed)", integer=True, lo=2, hi=24, arch=True),
    "eval_time": _pos("ns", "analog evaluate time of one job, any window size"),
    "idle_cycles": Param("cycles", "per-job idle cycles"),
    "stream_setup": Param("cycles", "extra cycles of each stream phase"),
    "stream_bandwidth": _pos("B/cycle", "input/output streaming bandwidth, each way"),
    "energy_job": _energy("fixed energy per job"),
    "energy_per_cell": _energy("energy per active cell per job"),
    "energy_dac": _energy("energy per driven row per input bit-slice"),
    "energy_adc": _energy("energy per column conversion"),
    "prog_noise": Param("ratio", "programming noise σ relative to cell_max", default=0.0),
    "read_noise": Param("ratio", "read noise σ per cell read, relative to cell_max", default=0.0),
    "stuck_zero": Param("ratio", "fraction of cells stuck at 0", hi=1, default=0.0),
    "stuck_max": Param("ratio", "fraction of cells stuck at ±cell_max", hi=1, default=0.0),
    "drift_nu": Param("ratio", "mean drift exponent ν of G(t) = G(t0)·(t/t0)^-ν", default=0.0),
    "drift_nu_std": Param("ratio", "spread of ν between cells", default=0.0),
    "drift_t0": _pos("s", "reference time of the drift law", default=20.0),
}

_DIGITAL: dict[str, Param | Choice] = {
    "addition": Choice(
        "bit-serial adder: 'fat' (carry kept in the sense amplifier, zero weights skipped) or "
        "'parapim' (the baseline: carry written back, every weight added)",
        ("fat", "parapim"),
    ),
    "lanes": _count("output positions computed in parallel (memory columns)"),
    "add_bits": Param("bits", "width of one partial-sum addition", integer=True, lo=1, hi=64),
    "cycles_per_bit_fat": _pos("cycles/bit", "memory cycles per added bit in FAT mode"),
    "cycles_per_bit_parapim": _pos("cycles/bit", "memory cycles per added bit, ParaPIM mode"),
    "job_overhead": Param("cycles", "fixed cycles per batch of lanes positions"),
    "stream_bandwidth": _pos("B/cycle", "bandwidth loading activations / reading results"),
    "energy_per_cycle_fat": _energy("energy per memory cycle per active lane, FAT mode"),
    "energy_per_cycle_parapim": _energy("energy per memory cycle per active lane, ParaPIM mode"),
}

ARRAY_PARAMS: dict[str, dict[str, Param | Choice]] = {
    "analog": {**_ARRAY_COMMON, **_ANALOG},
    "dynamic": {**_ARRAY_COMMON, **_ANALOG},
    "digital": {**_ARRAY_COMMON, **_DIGITAL},
}
