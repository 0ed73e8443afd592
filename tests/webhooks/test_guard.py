"""The SSRF guard: private, loopback and other non-public ranges refused unless YIMA_WEBHOOK_ALLOW lists them."""

from __future__ import annotations

import pytest

from registry.errors import Invalid
from webhooks.guard import Guard, Refused


@pytest.mark.parametrize(
    ("url", "range_name"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://127.8.9.10:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("http://172.31.255.254/hook", "private"),
        ("http://192.168.1.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),  # the cloud metadata address
        ("http://[fe80::1]/hook", "link-local"),
        ("http://100.64.0.1/hook", "carrier-grade NAT"),
        ("http://[fd12:3456::1]/hook", "unique-local"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[::]/hook", "unspecified"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),  # IPv4-mapped
        ("http://[64:ff9b::a00:1]/hook", "private"),  # NAT64 of 10.0.0.1
        ("http://[2002:c0a8:10a::1]/hook", "private"),  # 6to4 of 192.168.1.10
        ("http://2130706433/hook", "loopback"),  # 127.0.0.1 written as one number
        ("http://0x7f.1/hook", "loopback"),
    ],
)
def test_guard_refuses_each_non_public_range(url, range_name):
    with pytest.raises(Refused, match=range_name):
        Guard().check_url(url)


def test_guard_refuses_a_dns_name_that_resolves_to_loopback():
    with pytest.raises(Refused, match=r"localhost resolves to (127\.0\.0\.1|::1), a loopback address"):
        Guard().check_url("http://localhost:8080/hook")


def test_guard_allows_public_addresses_and_connects_to_the_address_it_checked():
    target = Guard().check_url("https://93.184.215.14/hooks/yima?x=1")
    assert (target.scheme, target.address, target.port, target.path) == (
        "https",
        "93.184.215.14",
        443,
        "/hooks/yima?x=1",
    )


def test_guard_allow_list_by_address_covers_names_that_resolve_to_it():
    guard = Guard(["127.0.0.1"])
    assert guard.check_url("http://127.0.0.1:9/hook").address == "127.0.0.1"
    assert guard.check_url("http://2130706433:9/hook").address == "127.0.0.1"
    with pytest.raises(Refused, match="loopback"):
        guard.check_url("http://127.0.0.2/hook")  # only that address


def test_guard_allow_list_by_cidr_and_by_host():
    guard = Guard(["10.20.0.0/16", "hooks.internal", "[fd00::/8]"])
    assert guard.check_url("http://10.20.30.40/hook").address == "10.20.30.40"
    assert guard.check_url("http://[fd00::5]/hook").address == "fd00::5"
    with pytest.raises(Refused, match="private"):
        guard.check_url("http://10.21.0.1/hook")
    by_host = Guard(["localhost"])
    assert (
        by_host.check_url("http://LOCALHOST:8000/hook").host == "localhost"
    )  # a listed name, whatever its address


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1/", "only http and https"),
        ("http://user:pass@example.com/hook", "user name or password"),
        ("http:///hook", "no host"),
        ("http://example.com:99999/hook", "not a valid URL"),
        ("", "at most 2000 characters"),
        ("http://example.com/" + "x" * 2000, "at most 2000 characters"),
        ("http://no-such-host.invalid/hook", "cannot be resolved"),
    ],
)
def test_guard_refuses_what_is_not_a_plain_http_url(url, why):
    with pytest.raises(Refused, match=why):
        Guard(["127.0.0.1"]).check_url(url)


def test_guard_validate_names_the_url_field_for_a_422():
    with pytest.raises(Invalid) as raised:
        Guard().validate("http://192.168.1.10/hook")
    assert raised.value.status == 422 and "url" in raised.value.errors
    assert "YIMA_WEBHOOK_ALLOW" in raised.value.message
