"""Every scheme's format rules: valid and invalid codes, normalisation, levels, parents, check digits; schemes as data."""

import json

import pytest

from standards import formats
from standards.formats import CheckDigitError, Malformed, gs1_check_digit


def parse(scheme_id, text):
    scheme = formats.get_scheme(scheme_id)
    return scheme.parse(scheme.normalise(text))


def test_formats_bundle_declares_the_six_contract_schemes():
    ids = {s.id for s in formats.all_schemes()}
    assert {"szgws-me", "gbt51269", "uniclass2015", "omniclass", "gtin", "gb50500"} <= ids
    assert not formats.get_scheme("gtin").has_code_list


@pytest.mark.parametrize("scheme", [s.id for s in formats.all_schemes()])
def test_formats_each_schemes_own_examples_hold(scheme):
    """The examples shipped in each definition file are accepted / rejected as they claim."""
    s = formats.get_scheme(scheme)
    assert s.examples["valid"] and s.examples["invalid"]
    for text in s.examples["valid"]:
        parse(scheme, text)
    for text in s.examples["invalid"]:
        with pytest.raises(Malformed):
            parse(scheme, text)


@pytest.mark.parametrize(
    "scheme,text,code,level,parent",
    [
        ("szgws-me", "40-10.20.00", "40-10.20.00", 2, "40-10.00.00"),
        ("szgws-me", "40-10.00.00", "40-10.00.00", 1, None),
        ("szgws-me", "30-12.13.14.15", "30-12.13.14.15", 4, "30-12.13.14"),
        ("szgws-me", "30-12.13.14", "30-12.13.14", 3, "30-12.13.00"),
        ("szgws-me", "４０－１０．２０．００", "40-10.20.00", 2, "40-10.00.00"),
        ("szgws-me", "  40 10 20 00\u3000", "40-10.20.00", 2, "40-10.00.00"),
        ("szgws-me", "40.10.20.00", "40-10.20.00", 2, "40-10.00.00"),
        ("gbt51269", "14-10.20.30", "14-10.20.30", 3, "14-10.20.00"),
        ("gbt51269", "41-10.00.00", "41-10.00.00", 1, None),
        ("uniclass2015", "Pr_20_93_52_11", "Pr_20_93_52_11", 4, "Pr_20_93_52"),
        ("uniclass2015", "pr-20-93-52-11", "Pr_20_93_52_11", 4, "Pr_20_93_52"),
        ("uniclass2015", "ＰＲ＿２０", "Pr_20", 1, "Pr"),
        ("uniclass2015", "ef_25", "EF_25", 1, "EF"),
        ("uniclass2015", "Pr", "Pr", 0, None),
        ("omniclass", "23-13 11 11", "23-13 11 11", 3, "23-13 11 00"),
        ("omniclass", "23-13-11-11", "23-13 11 11", 3, "23-13 11 00"),
        ("omniclass", "23-13 00 00", "23-13 00 00", 1, None),
        ("omniclass", "21-01 10 10 10", "21-01 10 10 10", 4, "21-01 10 10"),
        ("gb50500", "010101001001", "010101001001", 5, "010101001"),
        ("gb50500", "０１０１０１００１００１", "010101001001", 5, "010101001"),
        ("gb50500", "010101001", "010101001", 4, "010101"),
        ("gtin", "6901234567892", "6901234567892", 1, None),
        ("gtin", "690 1234 56789 2", "6901234567892", 1, None),
        ("gtin", "https://id.gs1.org/01/06901234567892/10/LOT7", "06901234567892", 1, None),
    ],
)
def test_formats_normalise_and_derive_level_and_parent(scheme, text, code, level, parent):
    parsed = parse(scheme, text)
    assert (parsed.code, parsed.level, parsed.parent) == (code, level, parent)


@pytest.mark.parametrize(
    "scheme,text,reason",
    [
        ("szgws-me", "40-1", "levels"),
        ("szgws-me", "40-10.00.20", "00"),
        ("szgws-me", "40-10.20.00.00", "not 00"),
        ("szgws-me", "40-00.00.00", "first level"),
        ("szgws-me", "50-10.00.00", "tables"),
        ("szgws-me", "40-1A.00.00", "two digits"),
        ("szgws-me", "", "empty"),
        ("gbt51269", "16-10.00.00", "tables"),
        ("uniclass2015", "Xx_20", "tables"),
        ("uniclass2015", "Pr_2", "two digits"),
        ("uniclass2015", "Pr_20_93_52_11_10", "levels"),
        ("omniclass", "23-13 00 11", "00"),
        ("gb50500", "01010100100", "digits"),
        ("gb50500", "100101001001", "tables"),
        ("gtin", "69012345678X", "digits"),
        ("gtin", "690123456789", "check digit"),
    ],
)
def test_formats_reject_malformed_codes_with_a_reason(scheme, text, reason):
    with pytest.raises(Malformed, match=reason):
        parse(scheme, text)


def test_formats_gtin_check_digits():
    assert gs1_check_digit("690123456789") == 2
    for good in ("6901234567892", "96385074", "036000291452", "10614141000415", "4006381333931"):
        assert parse("gtin", good).code == good
    for bad in ("6901234567893", "96385075", "036000291453"):
        with pytest.raises(CheckDigitError):
            parse("gtin", bad)


def test_formats_adding_a_scheme_is_adding_a_file(tmp_path):
    definition = {
        "id": "bureau-stage",
        "name": "项目阶段",
        "code_list": True,
        "format": {
            "kind": "segmented",
            "tables": {"43": "项目阶段"},
            "table_separator": "-",
            "segment_separator": ".",
            "segments": [3, 3],
            "zero_padded": True,
            "alternative_separators": "-. ",
        },
        "assignable_levels": None,
    }
    (tmp_path / "bureau-stage.json").write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    try:
        formats.configure([str(tmp_path)])
        assert parse("bureau-stage", "43-12.13.00").parent == "43-12.00.00"
        assert "szgws-me" in {s.id for s in formats.all_schemes()}
    finally:
        formats.configure([])
    with pytest.raises(Exception, match="no code scheme"):
        formats.get_scheme("bureau-stage")


def test_formats_a_broken_definition_file_is_named(tmp_path):
    (tmp_path / "broken.json").write_text('{"id": "x"}', encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json"):
        formats.configure([str(tmp_path)])
    formats.configure([])
