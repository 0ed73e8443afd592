"""One signed POST to a webhook (Standard Webhooks): keep-alive connections per address, bounded timeouts, no redirects.

urllib3 (the pool under ``requests``): one connection pool per checked address, so a busy receiver
is sent to over a kept-alive connection (hundreds of deliveries a second), and the socket goes to
the address the SSRF guard approved, with the URL's host in ``Host`` and in TLS. What a failure
leaves in the delivery log is made here from the status and the error's kind: never the secret, a
signature, or a header we sent.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from webhooks import crypto
from webhooks.guard import Guard, Refused, Target
from webhooks.settings import WebhookSettings

USER_AGENT = "Yima-Webhooks/1 (+Standard Webhooks)"
#: the most of a response body read (the rest is dropped with its connection)
MAX_RESPONSE = 64 * 1024
MAX_POOLS = 256
_PRINTABLE = re.compile(r"[^\w .,:;!?'\"()\[\]{}<>/@#%&*+=_-]+", re.UNICODE)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to. ``retry_after``: seconds the receiver asked us to wait (429/503)."""

    ok: bool
    status: int | None
    error: str | None
    latency_ms: float
    retry_after: float | None = None

    @property
    def gone(self) -> bool:
        return self.status == 410


class Sender:
    """Sends events; safe to share between threads (one pool per address, a few connections each)."""

    def __init__(self, settings: WebhookSettings, guard: Guard | None = None):
        self.settings = settings
        self.guard = guard or Guard(settings.allow)
        self.timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.timeout)
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def send(self, url: str, msg_id: str, body: bytes, keys: list[bytes]) -> Outcome:
        """POST ``body`` signed with ``keys`` (the current secret first). Never raises for a network error."""
        started = time.perf_counter()
        try:
            target = self.guard.check_url(url)
        except Refused as exc:
            return Outcome(False, None, f"refused by the address guard: {exc}", _ms(started))
        stamp = int(time.time())
        headers = {
            "Host": _host_header(target),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": crypto.signature(keys, msg_id, stamp, body),
        }
        try:
            try:
                return self._post(target, headers, body, started)
            except ProtocolError:
                # most often a kept-alive connection the receiver closed while idle: once more, on a new
                # one (the receiver may have seen the first: at least once, same webhook-id)
                return self._post(target, headers, body, started)
        except (ConnectTimeoutError, NewConnectionError, ReadTimeoutError, SSLError, ProtocolError) as exc:
            return Outcome(False, None, _network_error(exc, target, self.settings), _ms(started))
        except (HTTPError, OSError) as exc:
            return Outcome(False, None, f"{exc.__class__.__name__} talking to {target.address}", _ms(started))

    def _post(self, target: Target, headers: dict, body: bytes, started: float) -> Outcome:
        deadline = started + self.settings.timeout
        response = self._pool(target).urlopen(
            "POST",
            target.path,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            preload_content=False,
            timeout=self.timeout,
            assert_same_host=False,
        )
        try:
            text = _read_some(response, deadline)
        finally:
            response.release_conn()
        status = response.status
        if 200 <= status < 300:
            return Outcome(True, status, None, _ms(started))
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
        if text:
            error += ": " + text
        retry_after = _retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
        return Outcome(False, status, error, _ms(started), retry_after)

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    target.address,
                    target.port,
                    maxsize=4,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    cert_reqs="CERT_REQUIRED",
                )
            else:
                pool = urllib3.HTTPConnectionPool(target.address, target.port, maxsize=4)
            self._pools[key] = pool
            while len(self._pools) > MAX_POOLS:
                self._pools.popitem(last=False)[1].close()
            return pool

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def _read_some(response, deadline: float) -> str:
    """Up to ``MAX_RESPONSE`` bytes of the body (a longer or slower one is cut, its connection dropped),
    returned as a short printable excerpt for the log."""
    data = b""
    while len(data) < MAX_RESPONSE:
        if time.perf_counter() > deadline:
            response.close()
            break
        chunk = response.read(8192)
        if not chunk:
            break
        data += chunk
    else:  # MAX_RESPONSE reached: drop the rest with the connection rather than read it
        response.close()
    text = _PRINTABLE.sub(" ", data[:400].decode("utf-8", "replace")).strip()
    return text[:200]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _network_error(exc: Exception, target: Target, settings: WebhookSettings) -> str:
    where = f"{target.address}:{target.port}"
    if isinstance(exc, ConnectTimeoutError):
        return f"could not connect to {where} within {settings.connect_timeout:g} s"
    if isinstance(exc, ReadTimeoutError):
        return f"no answer from {where} within {settings.timeout:g} s"
    if isinstance(exc, NewConnectionError):
        reason = "connection refused" if "refused" in str(exc).lower() else "cannot connect"
        return f"{reason} ({where})"
    if isinstance(exc, SSLError):
        return f"TLS error with {target.host} ({where}): the certificate or handshake was refused"
    return f"the connection to {where} was closed before an answer"


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
