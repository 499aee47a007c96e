"""Stopping the embedded default's long-running commands (hub, login provider, demo)."""

from __future__ import annotations

import signal
import threading


def stop_on_signal() -> threading.Event:
    """An event that SIGINT or SIGTERM sets. Installed at once, so a signal that arrives while
    the caller is still starting up is not lost: the caller stops cleanly when it waits."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done
