"""The emulator's query engine: an embedded ClickHouse (chdb), so rounding, type conversion,
string order, JSON functions and time zones are ClickHouse's own.

chdb runs one embedded server per process. Every :class:`Store` gets its own database in it;
queries run on a small pool of sessions, so one slow query (bounded by
``max_execution_time``) never holds up the others.
"""

from __future__ import annotations

import atexit
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from chdb import session as chdb_session

MAX_SESSIONS = 8
BASE_SETTINGS = {
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_denormals": 0,
    "output_format_json_quote_decimals": 0,
    "readonly": 0,
}


class EngineError(RuntimeError):
    """ClickHouse refused or failed a statement; ``code`` is ClickHouse's error code."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


def _error_code(text: str) -> int | None:
    if text.startswith("Code: "):
        digits = text[6:].split(".", 1)[0]
        if digits.isdigit():
            return int(digits)
    return None


class Engine:
    """The process-wide embedded ClickHouse and its session pool."""

    _instance: Engine | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        # Closing the last session would tear the in-memory server (every database) down:
        # this one is never used or closed.
        self._keeper = chdb_session.Session(":memory:")
        self._free: list[Any] = []
        self._count = 0
        self._lock = threading.Condition()

    @classmethod
    def get(cls) -> Engine:
        """The one engine of this process (created on first use)."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = Engine()
                atexit.register(cls._instance.shutdown)
            return cls._instance

    def shutdown(self) -> None:
        """Close every session (at interpreter exit), the keeper last."""
        with self._lock:
            for current in self._free:
                _close_quietly(current)
            self._free.clear()
        _close_quietly(self._keeper)

    @contextmanager
    def _session(self) -> Iterator[Any]:
        with self._lock:
            while not self._free and self._count >= MAX_SESSIONS:
                self._lock.wait()
            if self._free:
                current = self._free.pop()
            else:
                current = chdb_session.Session(":memory:")
                self._count += 1
        healthy = False
        try:
            yield current
            healthy = True
        finally:
            with self._lock:
                if healthy:
                    self._free.append(current)
                else:  # a session that failed may hold a half-written answer: replace it
                    self._count -= 1
                    _close_quietly(current)
                self._lock.notify()

    def execute(self, sql: str, table: Any = None) -> None:
        """Run a statement that returns nothing (DDL, or an INSERT reading ``Python(table)``)."""
        self._run(sql, "CSV", table)

    def query(self, sql: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run a SELECT; return ClickHouse's JSONCompact answer (meta, data, rows)."""
        merged = {**BASE_SETTINGS, **(settings or {})}
        text = sql + " SETTINGS " + ", ".join(f"{k} = {_setting(v)}" for k, v in merged.items())
        raw = self._run(text, "JSONCompact", None)
        return json.loads(raw) if raw.strip() else {"meta": [], "data": [], "rows": 0}

    def scalar(self, sql: str) -> Any:
        """The first value of the first row."""
        data = self.query(sql)["data"]
        return data[0][0] if data else None

    def _run(self, sql: str, fmt: str, table: Any) -> bytes:
        with self._session() as current:
            try:
                return _query_with(current, sql, fmt, table)
            except Exception as exc:  # chdb raises its own error types; all are ClickHouse's word
                text = str(exc)
                raise EngineError(text, _error_code(text)) from exc

    def create_database(self, prefix: str = "emulator") -> str:
        """A new, empty database; returns its name."""
        name = f"{prefix}_{secrets.token_hex(6)}"
        self.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database made by :meth:`create_database`."""
        self.execute(f"DROP DATABASE IF EXISTS {name} SYNC")


def _query_with(current: Any, sql: str, fmt: str, table: Any) -> bytes:
    """Run ``sql``; chdb's ``Python(table)`` finds ``table`` among this frame's locals."""
    assert table is None or "Python(table)" in sql
    return current.query(sql, fmt).bytes()


def _close_quietly(current: Any) -> None:
    try:
        current.close()
    except Exception:  # noqa: BLE001, S110 - closing a broken session may fail; it is dropped anyway
        pass


def _setting(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
