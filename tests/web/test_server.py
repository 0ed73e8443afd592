"""What the real server (``yima serve``: gunicorn) answers before and around Yima: limits, in the contract's error shape."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from web.api.common import MAX_HEADER_BYTES
from web.server import SERVER_MAX_HEADER_BYTES, SERVER_MAX_REQUEST_LINE

YIMA = str(Path(sys.executable).with_name("yima"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("YIMA_")},
        "YIMA_DATABASE_URL": f"sqlite:///{folder / 'yima.db'}",
        "YIMA_INSTANCE_PATH": str(folder / "instance"),
    }
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [YIMA, "serve", "--port", str(port), "--threads", "2"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90  # a loaded CI machine starts gunicorn slowly
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(60)


def _raw(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """Send bytes as they are (no client library re-encodes them); the status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _get(path: bytes, *headers: bytes) -> bytes:
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + b"".join(h + b"\r\n" for h in headers)
        + b"\r\n"
    )


def _error(status: int, headers: dict, body: bytes) -> dict:
    assert headers["content-type"].startswith("application/json"), (status, headers, body[:200])
    doc = json.loads(body)
    assert doc["code"] == status and doc["status"] and doc["message"]
    return doc


def test_a_10_kb_authorization_header_reaches_yima_which_answers_431(server):
    header = b"Authorization: Bearer " + b"x" * 10_000
    assert MAX_HEADER_BYTES < 10_000 < SERVER_MAX_HEADER_BYTES
    status, headers, body = _raw(server, _get(b"/api/v1/schemes", header))
    assert status == 431
    assert "Authorization" in _error(431, headers, body)["message"]
    status, headers, body = _raw(server, _get(b"/catalog", header))
    assert status == 431 and headers["content-type"].startswith("text/html")


def test_what_gunicorn_refuses_itself_is_answered_in_the_error_shape(server):
    huge = b"X-Big: " + b"y" * (SERVER_MAX_HEADER_BYTES + 10)
    status, headers, body = _raw(server, _get(b"/api/v1/schemes", huge))
    assert status == 431 and _error(431, headers, body)

    status, headers, body = _raw(server, _get(b"/api/v1/schemes?q=" + b"a" * SERVER_MAX_REQUEST_LINE))
    assert status == 414 and "POST" in _error(414, headers, body)["message"]


def test_raw_chinese_in_the_url_is_a_json_400_that_says_to_percent_encode(server):
    status, headers, body = _raw(server, _get("/api/v1/schemes/编码".encode()))
    assert status == 400
    assert "percent-encode" in _error(400, headers, body)["message"]


def test_percent_encoded_chinese_reaches_yima_json_for_the_api_html_for_pages(server):
    status, headers, body = _raw(server, _get(b"/api/v1/schemes/%E7%BC%96%E7%A0%81"))
    assert status == 404 and "编码" in _error(404, headers, body)["message"]
    status, headers, _ = _raw(server, _get(b"/catalog/%E7%BC%96%E7%A0%81"))
    assert status == 404 and headers["content-type"].startswith("text/html")


class _Sent:
    """What gunicorn's workers hand the access log: a response's status, byte count and headers."""

    def __init__(self, status, sent):
        self.status, self.sent, self.headers = status, sent, [("Content-Type", "application/json")]


@pytest.mark.parametrize(
    "environ, resp",
    [
        ({"HTTP_USER_AGENT": 'openlineage-python/1.2 "async"'}, _Sent("201 CREATED", 431)),
        ({"HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0", "HTTP_REFERER": "http://x/a?b"}, _Sent(404, None)),
        ({"HTTP_AUTHORIZATION": "Bearer abc", "QUERY_STRING": "q=%22"}, _Sent("200 OK", 0)),
    ],
)
def test_the_access_line_is_gunicorns_default_line(environ, resp):
    """``AccessLog`` writes the default format itself (cheaper): the line must be the one gunicorn writes."""
    from datetime import timedelta

    from gunicorn import glogging
    from gunicorn.config import Config as GunicornConfig

    from web.server import AccessLog

    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "POST",
        "RAW_URI": '/api/v1/lineage?x="y"',
        "SERVER_PROTOCOL": "HTTP/1.1",
        **environ,
    }
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    keep = Keep()
    logging.getLogger("gunicorn.access").addHandler(keep)  # both loggers write to this one
    try:
        for logger_class in (glogging.Logger, AccessLog):
            logger_class(cfg).access(resp, [("Host", "x")], environ, timedelta(milliseconds=3))
    finally:
        logging.getLogger("gunicorn.access").removeHandler(keep)
    assert len(lines) == 2 and lines[0] == lines[1], lines
    assert lines[0].startswith("10.0.0.7 - ") and '"POST /api/v1/lineage?x=\\"y\\" HTTP/1.1"' in lines[0]
