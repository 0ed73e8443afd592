"""GS1 Digital Link parsing: what a scanned label yields, and for every wrong label the part that is wrong."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.errors import Invalid
from traceability import gs1

GTIN = "09521234543213"


def problems(call, *args, **kwargs) -> list[tuple[str, str, str]]:
    """(field, code, part) of every problem ``call`` raises; also checks each carries both languages."""
    with pytest.raises(gs1.GS1Invalid) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, Invalid) and caught.value.status == 422
    for name, found in caught.value.errors.items():
        for p in found:
            assert p["message_zh"] and p["message_en"] and p["code"].startswith("gs1."), (name, p)
    return [(f, p.code, p.part) for f, p in caught.value.problems]


def test_parse_link_reads_gtin_lot_serial_on_any_host_and_prefix():
    for uri in (
        f"https://id.gs1.org/01/{GTIN}/10/C1/21/0001",
        f"https://yima.szgws.example/some/prefix/01/{GTIN}/10/C1/21/0001",
        f"http://127.0.0.1:5000/01/{GTIN}/10/C1/21/0001",
    ):
        link = gs1.parse_link(uri)
        assert (link.gtin, link.lot, link.serial, link.cpv) == (GTIN, "C1", "0001", None)
        assert link.key == f"01/{GTIN}/10/C1/21/0001"
    full = gs1.parse_link(f"https://h/01/{GTIN}/22/V2/10/L1/21/S1")
    assert full.cpv == "V2" and full.key == f"01/{GTIN}/22/V2/10/L1/21/S1"
    assert gs1.parse_link(f"https://h/01/{GTIN}").is_item is False


def test_parse_link_pads_gtin_8_12_13_to_14():
    assert gs1.parse_link("https://h/01/96385074/21/1").gtin == "00000096385074"
    assert gs1.parse_link("https://h/01/614141123452/21/1").gtin == "00614141123452"
    assert gs1.parse_link("https://h/01/9521234543213/21/1").gtin == GTIN
    assert (
        gs1.normalise_gtin("９５２１２３４５４３２１３") == GTIN
    )  # full-width digits, as typed in Chinese IMEs
    assert gs1.normalise_gtin(9521234543213) == GTIN  # a spreadsheet number that lost its leading zero
    assert gs1.normalise_gtin("6 901234 567892") == "06901234567892"


def test_parse_link_refuses_a_bad_check_digit_naming_the_gtin():
    assert problems(gs1.parse_link, f"https://h/01/{GTIN[:-1]}4/10/L") == [("link", "gs1.check_digit", "01")]
    with pytest.raises(gs1.GS1Invalid) as caught:
        gs1.normalise_gtin("09521234543214")
    detail = caught.value.errors["gtin"][0]
    assert detail["params"] == {"value": "09521234543214", "expected": 3, "got": 4}
    assert "校验位应为 3" in detail["message_zh"] and "check digit" in detail["message_en"]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1234567890", "gs1.gtin_length"),
        ("952123454321X", "gs1.gtin_digits"),
        ("00000000000000", "gs1.gtin_zero"),
        ("", "gs1.empty"),
        ("٩٥٢١٢٣٤٥٤٣٢١٣", "gs1.gtin_digits"),  # Arabic-Indic digits are decimal to Python, not to GS1
    ],
)
def test_gtin_refusals_name_their_reason(value, code):
    assert problems(gs1.normalise_gtin, value) == [("gtin", code, "01")]


def test_parse_link_refuses_qualifiers_out_of_order_naming_the_misplaced_one():
    found = problems(gs1.parse_link, f"https://h/01/{GTIN}/21/S1/10/L1")
    assert found == [("link", "gs1.qualifier_order", "10")]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/L1/22/V1") == [
        ("link", "gs1.qualifier_order", "22")
    ]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/L1/10/L2") == [("link", "gs1.repeated", "10")]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/235/X") == [
        ("link", "gs1.qualifier_unknown", "path")
    ]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10") == [("link", "gs1.path_pairs", "path")]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/L/") == [("link", "gs1.path_pairs", "path")]


def test_parse_link_refuses_an_over_long_lot_and_characters_outside_set_82():
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/{'L' * 21}") == [("link", "gs1.too_long", "10")]
    assert gs1.parse_link(f"https://h/01/{GTIN}/10/{'L' * 20}").lot == "L" * 20
    for bad in ("%E4%B8%AD", "a%20b", "a~b", "a%23b"):  # 中, a space, ~ and # are outside set 82
        assert problems(gs1.parse_link, f"https://h/01/{GTIN}/21/{bad}") == [("link", "gs1.charset", "21")]
    # every problem of the values is reported at once, each naming its part
    found = problems(gs1.parse_link, f"https://h/01/{GTIN[:-1]}0/10/{'x' * 25}/21/中")
    assert [code for _, code, _ in found] == ["gs1.check_digit", "gs1.too_long", "gs1.charset"]


def test_parse_link_decodes_percent_encoding_and_keys_reserved_characters_encoded():
    link = gs1.parse_link(f"https://h/01/{GTIN}/10/A%2FB/21/x%25%26%3F%22y")
    assert (link.lot, link.serial) == ("A/B", 'x%&?"y')
    assert link.key == f"01/{GTIN}/10/A%2FB/21/x%25%26%3F%22y"
    # the key parses back to the same item, and a link built from it is the same link
    assert gs1.parse_key(link.key) == link
    assert gs1.parse_link(link.uri("https://yima.example")).key == link.key
    # the same item typed as parts gives the same key
    assert gs1.from_parts(GTIN, "A/B", 'x%&?"y').key == link.key
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/a%ZZ") == [
        ("link", "gs1.percent_encoding", "10")
    ]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/a%FF") == [
        ("link", "gs1.percent_encoding", "10")
    ]


def test_parse_link_reads_query_attributes_and_dates_with_day_00():
    link = gs1.parse_link(f"https://h/01/{GTIN}/10/L1?17=260200&3103=000195&linkType=gs1:pip")
    assert link.attributes == {
        "17": "260200",
        "3103": "000195",
    }  # linkType is not an AI: ignored, as biip does
    assert link.dates() == {"17": dt.date(2026, 2, 28)}  # day 00: the last day of the month
    assert gs1.parse_link(f"https://h/01/{GTIN}/10/L1?17=281200").dates()["17"] == dt.date(2028, 12, 31)
    assert link.key == f"01/{GTIN}/10/L1"  # attributes describe the item, they do not identify it
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/L1?17=261301") == [("link", "gs1.date", "17")]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/L1?17=261232") == [("link", "gs1.date", "17")]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/L1?3103=12") == [
        ("link", "gs1.attribute", "3103")
    ]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}?10=L1") == [
        ("link", "gs1.qualifier_in_query", "10")
    ]
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}/10/L?17=260101&17=260102") == [
        ("link", "gs1.repeated", "17")
    ]


@pytest.mark.parametrize(
    ("uri", "code", "part"),
    [
        (f"ftp://h/01/{GTIN}", "gs1.uri_scheme", "uri"),
        (f"{GTIN}", "gs1.uri_scheme", "uri"),
        (f"https:///01/{GTIN}", "gs1.uri_host", "uri"),
        ("https://h/products/123", "gs1.no_gtin", "path"),
        (f"https://h/00/106141412345678908/01/{GTIN}", "gs1.other_primary_key", "path"),
        (f"https://h/gtin/{GTIN}/lot/L1", "gs1.convenience_alpha", "path"),
        (f"https://h/01/{GTIN}/lot/L1", "gs1.convenience_alpha", "path"),
        (f"https://h/01/{GTIN}/10/L?exp=261231", "gs1.convenience_alpha", "query"),
        ("https://id.gs1.org/AQnYUc1gBmgAxQSYs9kQkg", "gs1.compressed", "uri"),
        ("", "gs1.empty", "uri"),
        ("https://[::1/01/x", "gs1.uri_malformed", "uri"),
    ],
)
def test_parse_link_structural_refusals(uri, code, part):
    assert problems(gs1.parse_link, uri) == [("link", code, part)]


def test_errors_carry_code_params_and_both_languages_for_the_api():
    with pytest.raises(gs1.GS1Invalid) as caught:
        gs1.parse_link(f"https://h/01/{GTIN}/21/S/10/L")
    (detail,) = caught.value.errors["link"]
    assert detail == {
        "code": "gs1.qualifier_order",
        "part": "10",
        "params": {"after": "21"},
        "message_zh": "批号（10）应在 AI 21 之前：限定符顺序为 22 → 10 → 21",
        "message_en": "the lot (10) must come before AI 21: qualifiers go in the order 22 → 10 → 21",
    }
    assert caught.value.message.startswith("The lot (10) must come before AI 21")


def test_from_parts_names_each_wrong_field():
    found = problems(gs1.from_parts, "09521234543214", "x" * 21, "中")
    assert found == [
        ("gtin", "gs1.check_digit", "01"),
        ("lot", "gs1.too_long", "10"),
        ("serial", "gs1.charset", "21"),
    ]
    assert problems(gs1.from_parts, GTIN) == [
        ("lot", "gs1.no_item_qualifier", "path"),
        ("serial", "gs1.no_item_qualifier", "path"),
    ]
    assert gs1.from_parts(GTIN, " L1 ", "", attributes={"17": "261200"}).key == f"01/{GTIN}/10/L1"
    assert problems(gs1.from_parts, GTIN, "L1", attributes={"17": "269999"}) == [
        ("attributes", "gs1.date", "17")
    ]
    assert gs1.from_parts(GTIN, None, 123).serial == "123"


def test_parse_link_requires_a_lot_or_serial_for_an_item():
    assert problems(gs1.parse_link, f"https://h/01/{GTIN}", require_item=True) == [
        ("link", "gs1.no_item_qualifier", "path")
    ]


def test_parse_key_accepts_resolver_paths_and_canonicalises():
    assert gs1.parse_key("/01/9521234543213/10/C1").key == f"01/{GTIN}/10/C1"
    assert gs1.parse_key(f"01/{GTIN}").is_item is False
    assert problems(gs1.parse_key, "02/123") == [("key", "gs1.no_gtin", "key")]
    assert problems(gs1.parse_key, f"01/{GTIN}/10/a?b") == [("key", "gs1.key_unencoded", "key")]
    assert problems(gs1.parse_key, f"01/{GTIN}/21/1/10/1") == [("key", "gs1.qualifier_order", "10")]
