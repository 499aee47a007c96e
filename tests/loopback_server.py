"""A static file server on 127.0.0.1 that records what it was asked for: it stands in for the
upstream release hosts (GitHub releases, dl.k8s.io, get.helm.sh, raw.githubusercontent.com) and
chart repositories, serving files at their upstream paths."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class _Handler(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        self.requested.append(self.path)


@contextmanager
def serving(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``root``; yields the base URL and the list of paths requested so far."""
    requested: list[str] = []
    handler = functools.partial(
        type("Handler", (_Handler,), {"requested": requested}), directory=str(root)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
