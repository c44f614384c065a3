"""The ledger: an append-only, hash-chained directory of JSON entries.

Entries are commitments, draw records and later events (unreachable, disqualified,
promoted, claimed). Each is one file ``entries/NNNNNNNN-<kind>-<draw id>.json`` written
atomically (temporary file, fsync, hard link to the final name so nothing is ever
overwritten, fsync of the directory). A lock file (``fcntl.flock``) serialises writers
across processes, so two concurrent draws of one id give one record.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drawkit.draw.record import Commitment, DrawRecord, entry_hash
from drawkit.errors import LedgerError

EVENT_KINDS = ("unreachable", "disqualified", "promoted", "claimed", "unfilled", "note")
_NAME = re.compile(r"^(\d{8})-(commitment|draw|event)-(.+)\.json$")
DRAW_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


def check_draw_id(draw_id: str) -> str:
    """Return ``draw_id`` if it is safe as a file name part; else raise LedgerError."""
    if not DRAW_ID_PATTERN.match(draw_id or ""):
        raise LedgerError(
            f"draw id {draw_id!r} must be 1-120 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return draw_id


@dataclass(frozen=True)
class ChainReport:
    """Result of :meth:`Ledger.verify_chain`: ok, entries checked, the first problem."""

    ok: bool
    entries: int
    problem: str | None = None
    sequence: int | None = None

    def format(self) -> str:
        """One line for people."""
        if self.ok:
            return f"ledger chain intact: {self.entries} entries"
        return f"ledger chain BROKEN at entry {self.sequence}: {self.problem}"


class Ledger:
    """An append-only, hash-chained ledger of draws in a directory."""

    def __init__(self, path: str | Path, *, lock_timeout: float = 120.0) -> None:
        self.path = Path(path)
        self.entries_dir = self.path / "entries"
        self.lock_timeout = lock_timeout
        self._lock_depth = 0
        self._lock_file: Any = None

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    # ---------------------------------------------------------------- locking

    @contextlib.contextmanager
    def lock(self) -> Iterator[Ledger]:
        """Hold the ledger's exclusive lock (re-entrant within this object)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
            return
        self.entries_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / ".lock", "a+")  # noqa: SIM115 - closed below
        deadline = time.monotonic() + self.lock_timeout
        try:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LedgerError(
                            f"ledger {self.path} is locked by another draw; gave up after "
                            f"{self.lock_timeout:.0f} s"
                        ) from None
                    time.sleep(0.05)
            self._lock_file = handle
            self._lock_depth = 1
            try:
                yield self
            finally:
                self._lock_depth = 0
                self._lock_file = None
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()

    # ---------------------------------------------------------------- reading

    def _files(self) -> list[tuple[int, str, str, Path]]:
        if not self.entries_dir.is_dir():
            return []
        found = []
        for item in self.entries_dir.iterdir():
            match = _NAME.match(item.name)
            if match:
                found.append((int(match[1]), match[2], match[3], item))
        return sorted(found)

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LedgerError(f"ledger entry {path.name} is unreadable: {exc}") from exc
        if not isinstance(data, dict):
            raise LedgerError(f"ledger entry {path.name} is not a JSON object")
        return data

    def entries(self) -> list[dict[str, Any]]:
        """Every entry as a dict, in sequence order."""
        return [self._read(path) for _, _, _, path in self._files()]

    def records(self) -> list[DrawRecord]:
        """Every draw record, in ledger order."""
        return [
            DrawRecord.from_dict(self._read(path))
            for _, kind, _, path in self._files()
            if kind == "draw"
        ]

    def get(self, draw_id: str) -> DrawRecord | None:
        """The draw record of ``draw_id``, or None if that draw has not run."""
        for _, kind, name, path in self._files():
            if kind == "draw" and name == draw_id:
                return DrawRecord.from_dict(self._read(path))
        return None

    def commitment(self, draw_id: str) -> Commitment | None:
        """The commitment of ``draw_id``, or None."""
        for _, kind, name, path in self._files():
            if kind == "commitment" and name == draw_id:
                return Commitment.from_dict(self._read(path))
        return None

    def events(self, draw_id: str) -> list[dict[str, Any]]:
        """Events appended for ``draw_id``, in order."""
        return [
            self._read(path)
            for _, kind, name, path in self._files()
            if kind == "event" and name == draw_id
        ]

    # ---------------------------------------------------------------- writing

    def append(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Append an entry (``draw_id`` in ``body``); returns it with sequence and hashes."""
        if kind not in ("commitment", "draw", "event"):
            raise LedgerError(f"unknown ledger entry kind {kind!r}")
        draw_id = check_draw_id(str(body.get("draw_id", "")))
        with self.lock():
            files = self._files()
            if files:
                last_sequence, _, _, last_path = files[-1]
                previous = self._read(last_path).get("record_hash")
            else:
                last_sequence, previous = 0, None
            entry = dict(body)
            entry["kind"] = kind
            entry["sequence"] = last_sequence + 1
            entry["previous_record_hash"] = previous
            entry["record_hash"] = ""
            entry["record_hash"] = entry_hash(entry)
            name = f"{entry['sequence']:08d}-{kind}-{draw_id}.json"
            self._write_atomically(self.entries_dir / name, entry)
            return entry

    def append_event(
        self, draw_id: str, kind: str, details: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Append a later event (e.g. unreachable, claimed) for an existing draw."""
        if kind not in EVENT_KINDS:
            raise LedgerError(f"unknown event {kind!r} (known: {', '.join(EVENT_KINDS)})")
        with self.lock():
            if self.get(draw_id) is None:
                raise LedgerError(f"no draw {draw_id!r} in ledger {self.path}")
            body = {
                "draw_id": draw_id,
                "event": kind,
                "details": dict(details or {}),
                "recorded_at": datetime.now(UTC).isoformat(),
            }
            return self.append("event", body)

    def _write_atomically(self, final: Path, entry: dict[str, Any]) -> None:
        text = json.dumps(entry, indent=2, ensure_ascii=False) + "\n"
        tmp = final.with_name(f".tmp-{os.getpid()}-{final.name}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, final)  # fails rather than overwrite an entry
            except FileExistsError as exc:
                raise LedgerError(f"ledger entry {final.name} already exists") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_dir(final.parent)

    # ---------------------------------------------------------------- checking

    def verify_chain(self) -> ChainReport:
        """Check every entry's hash, its link to the one before, and the numbering."""
        previous: str | None = None
        count = 0
        for sequence, kind, name, path in self._files():
            count += 1
            try:
                data = self._read(path)
            except LedgerError as exc:
                return ChainReport(False, count, str(exc), sequence)
            problem = _entry_problem(data, sequence, kind, name, count, previous)
            if problem:
                return ChainReport(False, count, problem, sequence)
            previous = data["record_hash"]
        return ChainReport(True, count)


def _entry_problem(
    data: dict[str, Any],
    sequence: int,
    kind: str,
    name: str,
    expected_sequence: int,
    previous: str | None,
) -> str | None:
    if sequence != expected_sequence:
        return f"entry {expected_sequence} is missing (found {sequence} next)"
    if data.get("sequence") != sequence or data.get("kind") != kind:
        return "file name and content disagree on sequence or kind"
    if data.get("draw_id") != name:
        return "file name and content disagree on the draw id"
    if data.get("previous_record_hash") != previous:
        return (
            f"previous_record_hash {data.get('previous_record_hash')} does not link to the "
            f"entry before it ({previous})"
        )
    computed = entry_hash(data)
    if data.get("record_hash") != computed:
        return f"record_hash {data.get('record_hash')} does not match its content ({computed})"
    return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
