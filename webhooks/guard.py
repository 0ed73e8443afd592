"""The SSRF guard: a webhook may only reach public addresses, unless ``YIMA_WEBHOOK_ALLOW`` lists its host or range.

Checked when a webhook is created or its URL changed, and again before every delivery (DNS can
change): the sender connects to the very address that was checked, so a name that re-resolves in
between (DNS rebinding) cannot slip through. Only http and https; redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from registry.errors import Invalid

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: the ranges refused, each with the name given in the error (most specific first)
REFUSED: tuple[tuple[str, Network], ...] = tuple(
    (name, ipaddress.ip_network(cidr))
    for name, cidr in (
        ("loopback", "127.0.0.0/8"),
        ("loopback", "::1/128"),
        ("unspecified", "0.0.0.0/8"),
        ("unspecified", "::/128"),
        ("private", "10.0.0.0/8"),
        ("private", "172.16.0.0/12"),
        ("private", "192.168.0.0/16"),
        ("carrier-grade NAT (shared)", "100.64.0.0/10"),
        ("link-local", "169.254.0.0/16"),
        ("link-local", "fe80::/10"),
        ("unique-local", "fc00::/7"),
        ("multicast", "224.0.0.0/4"),
        ("multicast", "ff00::/8"),
        ("reserved", "240.0.0.0/4"),
        ("IETF protocol assignments", "192.0.0.0/24"),
        ("benchmarking", "198.18.0.0/15"),
        ("documentation", "192.0.2.0/24"),
        ("documentation", "198.51.100.0/24"),
        ("documentation", "203.0.113.0/24"),
        ("documentation", "2001:db8::/32"),
    )
)
#: seconds a name's checked addresses are reused by the sender (then resolved and checked again)
RESOLVE_TTL = 30.0


@dataclass(frozen=True)
class Target:
    """Where a URL may be sent: the checked address to connect to, and what the request must say."""

    scheme: str
    host: str  # as written in the URL (the Host header and TLS name)
    port: int
    address: str  # the checked IP to connect to
    path: str  # path and query


class Refused(Exception):
    """A URL the guard refuses, with a message fit for a user (names the range, never anything secret)."""


class Guard:
    """The allow-list of ``YIMA_WEBHOOK_ALLOW`` (host names, addresses, CIDRs) and the checks."""

    def __init__(self, allow: tuple[str, ...] | list[str] = (), resolver=socket.getaddrinfo):
        self.hosts: set[str] = set()
        self.networks: list[Network] = []
        for item in allow:
            item = item.strip().lower().rstrip(".")
            if not item:
                continue
            try:
                self.networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                self.hosts.add(item)
        self._resolver = resolver
        self._cache: dict[tuple[str, int], tuple[float, list[Address]]] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str) -> Target:
        """The target of ``url`` when every address it resolves to may be reached. Raises Refused."""
        parts = _split(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = self._resolve(host, port)
        if host not in self.hosts:
            for address in addresses:
                problem = self.refusal(address)
                if problem:
                    where = f"{host} is" if _literal(host) else f"{host} resolves to {address},"
                    raise Refused(f"{where} {problem}; list it in YIMA_WEBHOOK_ALLOW to allow it")
        path = parts.path or "/"
        return Target(
            parts.scheme, host, port, str(addresses[0]), path + (f"?{parts.query}" if parts.query else "")
        )

    def validate(self, url: str) -> str:
        """``check_url`` for a service: the URL as given, or Invalid naming ``url`` (422)."""
        try:
            self.check_url(url)
        except Refused as exc:
            raise Invalid(f"url: {exc}", {"url": [str(exc)]}) from None
        return url

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` is refused ("a loopback address" …), or None when it may be reached."""
        candidates = _embedded(address)
        if any(c in net for c in candidates for net in self.networks if c.version == net.version):
            return None
        for candidate in candidates:
            for name, net in REFUSED:
                if candidate.version == net.version and candidate in net:
                    return f"a {name} address"
        if any(not c.is_global or c.is_multicast for c in candidates):
            return "not a public address"
        return None

    def _resolve(self, host: str, port: int) -> list[Address]:
        literal = _literal(host)
        if literal is not None:
            return [literal]
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get((host, port))
        if cached and now - cached[0] < RESOLVE_TTL:
            return cached[1]
        try:
            infos = self._resolver(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"the host {host} cannot be resolved ({exc.__class__.__name__})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        if not addresses:
            raise Refused(f"the host {host} resolves to no address")
        with self._lock:
            self._cache[(host, port)] = (now, addresses)
        return addresses


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip() or len(url) > 2000:
        raise Refused("the URL must be an http or https URL of at most 2000 characters")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise Refused("the URL is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL must not carry a user name or password (receivers check the signature)")
    if parts.fragment:
        raise Refused("the URL must not have a #fragment")
    return parts


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded(address: Address) -> list[Address]:
    """The address and any IPv4 address inside it (mapped, 6to4, Teredo, NAT64): each must pass."""
    found: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour, *(address.teredo or ())):
            if inner is not None:
                found.append(inner)
        if any(address in net for net in _NAT64):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found
