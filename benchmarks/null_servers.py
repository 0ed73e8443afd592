"""Do-nothing HTTP servers for the server-stack benchmark: what a client reaches when the server does no work.

``python -m benchmarks.null_servers PORT`` runs an asyncio responder (HTTP/1.1 keep-alive, reads each
request and its body, answers ``201 {}``); ``wsgi`` is the same answer as a WSGI app, for gunicorn and
granian to serve.
"""

from __future__ import annotations

import asyncio
import sys

_ANSWER = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def wsgi(environ, start_response):
    """The do-nothing WSGI app: read the body, answer 201 ``{}``."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            writer.write(_ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_connection, "127.0.0.1", port, limit=1 << 20)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
