"""Running the embedded default's long-running commands (emulator, hub, login provider, demo)
until SIGINT or SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path


def stop_on_signal() -> threading.Event:
    """An event that SIGINT or SIGTERM sets. Installed at once, so a signal that arrives while
    the caller is still starting up is not lost: the caller stops cleanly when it waits."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done


def write_atomically(path: Path, text: str) -> None:
    """Pollers wait for the file to exist; they must never see it half written."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def serve_until_signalled(
    start: Callable[[], str],
    stop: Callable[[], None],
    *,
    banner: str = "{url}",
    url_file: Path | None = None,
    pid_file: Path | None = None,
) -> None:
    """Start (which returns the URL), announce it, serve until SIGINT or SIGTERM, stop.

    The banner goes to stdout; the pid file and then the URL file are written (the URL last:
    callers take it as the ready signal) and removed on the way out, so no later caller
    mistakes them for a live server. A signal during start is kept: it stops the server at once.
    """
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    done = stop_on_signal()
    written: list[Path] = []
    try:
        url = start()
        try:
            if pid_file is not None:
                write_atomically(pid_file, f"{os.getpid()}\n")
                written.append(pid_file)
            print(banner.format(url=url), flush=True)
            if url_file is not None:
                write_atomically(url_file, f"{url}\n")
                written.append(url_file)
            done.wait()
        finally:
            stop()
    finally:
        for path in written:
            path.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
