"""Target presets, validation errors, fingerprints, overrides and the human listing."""

from __future__ import annotations

import re

import pytest
from imcc.runtime.isa.program import fingerprint_of
from imcc.runtime.targets import (
    TargetError,
    find_target,
    format_target_list,
    list_targets,
    load_target,
    loads_target,
)
from imcc.runtime.targets.loader import PRESET_DIR
from imcc.runtime.targets.schema import ARRAY_PARAMS, SECTIONS

CLUSTER_TEXT = (PRESET_DIR / "cluster.toml").read_text()


def test_presets_load_and_have_the_papers_figures():
    assert list_targets() == ["bert-chip", "cluster", "fat"]
    c = load_target("cluster")
    ima = c.arrays[0]
    assert (ima.rows, ima.cols, ima.cell_min, ima.cell_max) == (256, 256, -7, 7)
    assert (ima.dac_bits, ima.adc_bits, ima.eval_time) == (8, 8, 130.0)
    assert (ima.write_time, ima.write_width, ima.stream_bandwidth) == (1000.0, 8, 64.0)
    assert c.cores.count == 8 and c.memory["L1"].size == 512 * 1024 and c.clock.freq == 500.0
    assert c.dwunit is not None and c.nlunit is None
    f = load_target("fat").arrays[0]
    assert f.kind == "digital" and f.addition == "fat"
    assert (f.cycles_per_bit_fat, f.cycles_per_bit_parapim) == (1.0, 2.0)
    b = load_target("bert-chip")
    assert [g.kind for g in b.arrays] == ["analog", "dynamic"] and b.nlunit is not None
    assert b.group_of(b.arrays[1].first).name == "attn"


@pytest.mark.parametrize("name", ["cluster", "fat", "bert-chip"])
def test_every_value_has_a_unit_and_a_source(name):
    t = load_target(name)
    sections = [t.clock, *t.memory.values(), t.dma, t.cores, t.core_kernels, t.chip, *t.arrays]
    sections += [s for s in (t.dwunit, t.nlunit, t.nl_kernels) if s is not None]
    for sec in sections:
        for key in sec:
            if sec.units[key]:  # plain strings (names, kinds) carry no unit
                assert sec.sources[key] and sec.sources[key] != "", key
    text = (PRESET_DIR / f"{name}.toml").read_text()
    for line in text.splitlines():
        if "value =" in line:
            assert re.search(r'unit = "[^"]+"', line) and re.search(r'source = "[^"]+"', line), line


def test_units_convert_to_canonical_values():
    text = CLUSTER_TEXT.replace(
        'size = { value = 512, unit = "KiB"', 'size = { value = 0.5, unit = "MiB"'
    ).replace('eval_time = { value = 130, unit = "ns"', 'eval_time = { value = 0.13, unit = "us"')
    t = loads_target(text)
    assert t.memory["L1"].size == 524288 and t.arrays[0].eval_time == pytest.approx(130.0)
    # same values in other units: same fingerprints
    assert t.fingerprint == load_target("cluster").fingerprint


def test_fingerprints_are_deterministic_and_cover_architecture_only():
    a, b = load_target("cluster"), load_target("cluster")
    assert a.fingerprint == b.fingerprint and re.fullmatch(r"[0-9a-f]{64}", a.fingerprint)
    assert len({load_target(n).fingerprint for n in list_targets()}) == 3
    cost_only = a.with_overrides({"arrays.ima.eval_time": 200, "cores.kernels.softmax": "10"})
    assert cost_only.fingerprint == a.fingerprint
    assert cost_only.params_fingerprint != a.params_fingerprint
    assert cost_only.arrays[0].eval_time == 200.0 and cost_only.core_kernels.softmax == 10.0
    arch = a.with_overrides({"arrays.ima.adc_bits": 6})
    assert arch.fingerprint != a.fingerprint
    bigger = a.with_overrides({"memory.L1.size": "1 MiB"})
    assert bigger.memory["L1"].size == 1 << 20 and bigger.fingerprint != a.fingerprint
    assert find_target(a.fingerprint).name == "cluster"
    assert find_target(a.fingerprint_bytes).name == "cluster"
    assert fingerprint_of(a.canonical_text()) == a.fingerprint_bytes  # what prog.bin stores
    assert find_target("0" * 64) is None


def _broken(old: str, new: str) -> str:
    assert old in CLUSTER_TEXT
    return CLUSTER_TEXT.replace(old, new, 1)


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("[clock]", "[clock]\nturbo = 1", "unknown key 'clock.turbo'"),
        ("[dma]", "[dmaa]", "unknown key 'dmaa'"),
        (
            'count = { value = 8, unit = "count", source = "paper: 8 RISC-V cores" }',
            "",
            "cores.count: missing",
        ),
        ('source = "paper: 8-bit ADC"', 'source = ""', "adc_bits: missing source"),
        (
            'adc_bits = { value = 8, unit = "bits"',
            'adc_bits = { value = 8, unit = "ns"',
            "unit 'ns' is not a bits unit",
        ),
        (
            'adc_bits = { value = 8, unit = "bits"',
            'adc_bits = { value = 0, unit = "bits"',
            "adc_bits: 0 bits is impossible",
        ),
        ("freq = { value = 500,", "freq = { value = -5,", "clock.freq: -5 MHz is impossible"),
        (
            'size = { value = 512, unit = "KiB"',
            'size = { value = 1.5, unit = "B"',
            "memory.L1.size: must be a whole number",
        ),
        ('kind = "analog"', 'kind = "quantum"', "kind: must be one of"),
        (
            "cell_max = { value = 7,",
            "cell_max = { value = 300,",
            "cell_max: 300 level is impossible",
        ),
        (
            'eval_time = { value = 130, unit = "ns", source = "paper: 130 ns per MVM job, any window size" }',
            'eval_time = { value = 130, unit = "ns", source = "x", note = 1 }',
            "unknown key 'note'",
        ),
        ("[[arrays]]", '[[arrays]]\nflavour = "x"', "unknown key 'arrays[0].flavour'"),
        ('name = "cluster"', 'name = "my cluster"', "target.name"),
        ('value = 130, unit = "ns"', 'value = "fast", unit = "ns"', "must be a finite number"),
    ],
)
def test_bad_descriptions_name_the_key(old, new, message):
    with pytest.raises(TargetError, match=re.escape(message)):
        loads_target(_broken(old, new), origin="mine.toml")


def test_more_structural_errors():
    with pytest.raises(TargetError, match="invalid TOML"):
        loads_target("[clock", origin="x.toml")
    without_arrays = CLUSTER_TEXT[: CLUSTER_TEXT.index("[[arrays]]")]
    with pytest.raises(TargetError, match="missing \\[\\[arrays\\]\\]"):
        loads_target(without_arrays)
    twice = CLUSTER_TEXT + CLUSTER_TEXT[CLUSTER_TEXT.index("[[arrays]]") :]
    with pytest.raises(TargetError, match="duplicate group name 'ima'"):
        loads_target(twice)
    digital_int4 = load_target("fat").with_overrides
    with pytest.raises(TargetError, match="digital arrays are ternary"):
        digital_int4({"arrays.fat.cell_max": 7})
    with pytest.raises(TargetError, match="unknown target 'nope'"):
        load_target("nope")
    with pytest.raises(TargetError, match="no array group 'x'"):
        load_target("fat").with_overrides({"arrays.x.addition": "parapim"})
    with pytest.raises(TargetError, match="is not one of fat, parapim"):
        load_target("fat").with_overrides({"arrays.fat.addition": "slow"})


def test_every_schema_parameter_is_documented():
    for spec in [*SECTIONS.values(), *ARRAY_PARAMS.values()]:
        for key, param in spec.items():
            assert param.doc, key


def test_listing_and_description():
    listing = format_target_list()
    assert [line.split()[0] for line in listing.splitlines() if not line.startswith(" ")] == [
        "bert-chip",
        "cluster",
        "fat",
    ]
    assert "128x analog 256x256 [-7..7]" in listing and "dw unit" in listing
    text = load_target("cluster").describe()
    assert "eval_time" in text and "paper: 130 ns per MVM job" in text and "assumed" in text


def test_an_optional_unit_set_to_none_is_removed():
    cluster = load_target("cluster")
    bare = cluster.with_overrides({"dwunit": "none"})
    assert cluster.dwunit is not None and bare.dwunit is None
    assert bare.fingerprint_bytes != cluster.fingerprint_bytes  # a different architecture
    assert load_target("bert-chip").with_overrides({"nlunit": "none"}).nlunit is None
    with pytest.raises(TargetError, match="dwunit"):
        cluster.with_overrides({"dwunit": "7"})  # only 'none' removes a section
