"""Shared pieces of the benchmarks: figures, isolated runs, peak memory.

Every measurement runs in a fresh spawned process, so its peak memory (ru_maxrss) is
its own and one benchmark's garbage never slows the next. Speed is always reported as a
ratio to a baseline measured in the same run, never as an absolute target.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

GIB = 1024**3


@dataclass
class Figure:
    """One line of the benchmark table and of reports/bench/latest.json."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _child(conn, func, args, kwargs) -> None:  # pragma: no cover - runs in the child
    try:
        result = func(*args, **kwargs)
        result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send(("ok", result))
    except BaseException as exc:  # report any failure to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class MemoryCapExceeded(RuntimeError):
    """A benchmark child passed the resident memory cap and was stopped."""


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_isolated(
    func: Callable[..., dict[str, Any]], *args: Any, rss_cap: float | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Run ``func`` in a fresh process; return its dict plus ``peak_rss_bytes``. With
    ``rss_cap`` (bytes) the child is stopped, and MemoryCapExceeded raised, when its
    resident memory passes the cap (the machine is shared: never let a peer swamp it)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, func, args, kwargs))
    process.start()
    child.close()
    while rss_cap is not None and not parent.poll(0.5):
        if _rss(process.pid) > rss_cap:
            process.kill()
            process.join()
            cap = f"{rss_cap / GIB:.0f} GiB"
            raise MemoryCapExceeded(f"{func.__name__} passed {cap} and was stopped")
        if not process.is_alive() and not parent.poll(0):
            break
    status, payload = parent.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"benchmark {func.__name__} failed: {payload}")
    return payload


def timed(func: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls of ``func`` and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result
