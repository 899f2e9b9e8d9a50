"""docs/ISA.md is generated from the ISA table and must be up to date."""

from pathlib import Path

from imcc.runtime.isa import gendoc
from imcc.runtime.isa.table import TABLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "ISA.md"


def test_isa_doc_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == gendoc.render(), (
        "docs/ISA.md is stale: run `python -m imcc.runtime.isa.gendoc -o docs/ISA.md`"
    )


def test_doc_covers_every_row_and_field():
    text = gendoc.render()
    for spec in TABLE:
        assert f"### `{spec.mnemonic}`" in text
        assert spec.semantics in text
        for f in spec.fields:
            assert f"| `{f.name}` |" in text


def test_check_mode(tmp_path, capsys):
    path = tmp_path / "ISA.md"
    assert gendoc.main(["-o", str(path), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert gendoc.main(["-o", str(path)]) == 0
    assert gendoc.main(["-o", str(path), "--check"]) == 0
