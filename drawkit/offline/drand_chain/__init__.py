"""A local drand-compatible test beacon: real BLS rounds under a throwaway key.

>>> with LocalDrandChain(period=1) as chain:            # doctest: +SKIP
...     chain.url, chain.chain_hash
('http://127.0.0.1:54321', '9c1e…')

Whoever runs it holds its key, so its values can be known in advance: it stands in for
drand's relays in tests and demos and is never public randomness (docs/beacon.md).
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import TextIO

from drawkit.offline.drand_chain.server import (
    BEACON_ID,
    FAULT_MODES,
    NOTE,
    ChainFaults,
    LocalDrandChain,
    started_banner,
)

__all__ = [
    "BEACON_ID",
    "FAULT_MODES",
    "NOTE",
    "ChainFaults",
    "LocalDrandChain",
    "serve_forever",
    "started_banner",
]


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8020,
    period: int = 3,
    *,
    genesis_time: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Run a local test chain until SIGINT or SIGTERM; print its URL and chain hash first.

    Stops on both signals even when started as a background job (a shell gives those
    SIGINT ignored, and Python then installs no handler of its own). Returns 0."""
    out = out or sys.stdout
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    chain = LocalDrandChain(host, port, period=period, genesis_time=genesis_time)
    chain.start()
    try:
        for line in started_banner(chain):
            out.write(line + "\n")
        out.flush()
        chain.wait_stopped()
    except KeyboardInterrupt:
        out.write("local test drand chain stopped\n")
        out.flush()
    finally:
        chain.stop()
    return 0
