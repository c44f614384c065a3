"""The ledger: an append-only, hash-chained directory of JSON entries.

Entries are commitments, draw records and later events (unreachable, disqualified,
promoted, claimed). Each is one file ``entries/NNNNNNNN-<kind>-<draw id>.json`` written
atomically (temporary file, fsync, hard link to the final name so nothing is ever
overwritten, fsync of the directory). A lock file (``fcntl.flock``) serialises writers
across processes, so two concurrent draws of one id give one record; a second lock
serialises publishers, so concurrent publishes of a draw send each event once.

The ledger's **head** (its last entry's record hash) is published (commit prints it,
publish sends it): :meth:`Ledger.verify_chain` with published heads proves that no entry
up to them was removed or rewritten (docs/draw-spec.md, 'Ledger anchoring'). Special
files, symbolic links and a missing folder are errors, never an intact ledger.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drawkit.contract import LedgerHead
from drawkit.draw.record import Commitment, DrawRecord, entry_hash
from drawkit.errors import LedgerError

EVENT_KINDS = ("unreachable", "disqualified", "promoted", "claimed", "unfilled", "note")
ONCE_PER_DRAW = ("commitment", "draw")  # kinds a draw id has at most one of
LOCK_FILE = ".lock"
PUBLISH_LOCK_FILE = ".publish.lock"
PUBLISH_LOCK_TIMEOUT = 600.0  # a publisher may wait out PostHog's ingestion lag meanwhile
_NAME = re.compile(r"^(\d{8})-(commitment|draw|event)-(.+)\.json$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
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
    """Result of :meth:`Ledger.verify_chain`: ok, entries checked, the first problem, the
    ledger's head, and where each published head given was found."""

    ok: bool
    entries: int
    problem: str | None = None
    sequence: int | None = None
    head: LedgerHead | None = None
    anchors: tuple[LedgerHead, ...] = ()

    def format(self) -> str:
        """One line for people (two when published heads were checked)."""
        if not self.ok:
            if self.sequence is None:
                return f"ledger BROKEN: {self.problem}"
            return f"ledger chain BROKEN at entry {self.sequence}: {self.problem}"
        head = f", head {self.head.format()}" if self.head else ""
        line = f"ledger chain intact: {self.entries} entries{head}"
        if self.anchors:
            found = ", ".join(f"{a.record_hash[:16]}… at entry {a.sequence}" for a in self.anchors)
            line += f"\n  published head(s) found: {found}"
        return line


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
        with _exclusive(self.path / LOCK_FILE, self.lock_timeout, "another draw") as fd:
            self._lock_file = fd
            self._lock_depth = 1
            try:
                yield self
            finally:
                self._lock_depth = 0
                self._lock_file = None

    @contextlib.contextmanager
    def publish_lock(self, timeout: float = PUBLISH_LOCK_TIMEOUT) -> Iterator[Ledger]:
        """Hold the ledger's publish lock: one publisher at a time reads what a source
        holds, sends what is missing and waits until it is visible, so concurrent
        publishes send each event once (draws are not blocked meanwhile)."""
        self.entries_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.path / PUBLISH_LOCK_FILE, timeout, "another publish"):
            yield self

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
        """An entry's JSON; a symbolic link or a special file (a FIFO would block a
        plain read forever) is a LedgerError, never followed or waited on."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            kind = "a symbolic link" if path.is_symlink() else "unreadable"
            raise LedgerError(f"ledger entry {path.name} is {kind}: {exc.strerror}") from None
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise LedgerError(f"ledger entry {path.name} is {_file_kind(mode)}, not a "
                                  "regular file")
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LedgerError(f"ledger entry {path.name} is unreadable: {exc}") from exc
        finally:
            os.close(fd)
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

    def head(self) -> LedgerHead | None:
        """The ledger's head: its last entry's sequence and record hash (None when empty)."""
        files = self._files()
        if not files:
            return None
        sequence, _, _, path = files[-1]
        return LedgerHead(sequence, str(self._read(path).get("record_hash")))

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
            if kind in ONCE_PER_DRAW:
                for sequence, other, name, _ in files:
                    if other == kind and name == draw_id:
                        raise LedgerError(
                            f"draw {draw_id} already has a {kind} entry (entry {sequence}): "
                            "a draw id has one commitment and one record"
                        )
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

    def verify_chain(self, heads: Iterable[str] = ()) -> ChainReport:
        """Check the folder, every entry's hash, its link to the one before, the numbering,
        one commitment and one record per draw id, and that every published head in
        ``heads`` (record hashes) is an entry of this ledger."""
        problem = self._folder_problem()
        if problem:
            return ChainReport(False, 0, problem)
        previous: str | None = None
        count = 0
        found: dict[str, int] = {}
        once: dict[tuple[str, str], int] = {}
        for sequence, kind, name, path in self._files():
            count += 1
            try:
                data = self._read(path)
            except LedgerError as exc:
                return ChainReport(False, count, str(exc), sequence)
            problem = _entry_problem(data, sequence, kind, name, count, previous)
            if problem is None and kind in ONCE_PER_DRAW:
                first = once.setdefault((kind, name), sequence)
                if first != sequence:
                    problem = (f"a second {kind} entry for draw {name} (the first is entry "
                               f"{first}): a draw id has one commitment and one record")
            if problem:
                return ChainReport(False, count, problem, sequence)
            previous = data["record_hash"]
            found[previous] = sequence
        head = LedgerHead(count, previous) if previous is not None else None
        return _anchored(ChainReport(True, count, head=head), heads, found)

    def _folder_problem(self) -> str | None:
        """Why this path is not a readable ledger folder (None when it is)."""
        for path, what in ((self.path, "ledger folder"), (self.entries_dir, "entries folder")):
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                if path == self.path:
                    return f"no ledger at {path}: the folder does not exist"
                return f"{self.path} is not a drawkit ledger: it has no entries folder"
            except OSError as exc:
                return f"the {what} {path} cannot be read: {exc.strerror}"
            if stat.S_ISLNK(mode):
                return f"the {what} {path} is a symbolic link: give the folder itself"
            if not stat.S_ISDIR(mode):
                return f"the {what} {path} is {_file_kind(mode)}, not a folder"
        return None


def normalise_head(text: str) -> str:
    """A published head as given (hex record hash, any case); LedgerError when it is not
    a record hash."""
    head = text.strip().lower()
    if not _HASH.match(head):
        raise LedgerError(f"ledger head {text.strip()[:80]!r} is not a record hash (64 hex digits)")
    return head


def _anchored(report: ChainReport, heads: Iterable[str], found: dict[str, int]) -> ChainReport:
    anchors = []
    for given in heads:
        head = normalise_head(given)
        if head not in found:
            end = report.head.format() if report.head else "nothing (no entry)"
            return ChainReport(
                False, report.entries,
                f"the published ledger head {head} is not in this ledger: entries up to it "
                f"were removed or rewritten after it was published (the ledger now ends at "
                f"{end})", None, report.head, tuple(anchors),
            )
        anchors.append(LedgerHead(found[head], head))
    return ChainReport(True, report.entries, head=report.head, anchors=tuple(anchors))


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR,
             "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR,
             "a folder"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISREG, "a regular file"))
    return next((name for test, name in kinds if test(mode)), "a special file")


@contextlib.contextmanager
def _exclusive(path: Path, timeout: float, holder: str) -> Iterator[int]:
    """An exclusive flock on ``path`` (a regular file: never a link or a FIFO), waited
    for at most ``timeout`` seconds."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        raise LedgerError(f"ledger lock file {path} cannot be opened: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise LedgerError(f"ledger lock file {path} is {_file_kind(mode)}, not a regular file")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LedgerError(
                        f"ledger {path.parent} is locked by {holder}; gave up after "
                        f"{timeout:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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
