"""One writer for the files a draw trusts.

Every file drawkit writes goes through :func:`write_private` (full phone numbers, revealed
secrets: mode 0600 from creation) or :func:`write_public` (masked copies: 0644). Both are
atomic (a temporary file in the same folder, fsync, rename, fsync of the folder), never
follow a symlink (neither at the final name nor at the temporary one) and never write
into a directory, a FIFO or a device. Private folders are 0700 whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from drawkit.errors import InputError

PRIVATE_FILE = 0o600
PUBLIC_FILE = 0o644
PRIVATE_DIR = 0o700

Writer = Callable[[IO[str]], None]


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents) as an owner-only folder; fix its mode if it
    exists. A symlink or a non-folder at ``path`` is refused."""
    path = Path(path)
    _refuse_link(path, "folder")
    path.mkdir(parents=True, exist_ok=True)
    if not path.is_dir():
        raise InputError(f"{path} exists and is not a folder")
    os.chmod(path, PRIVATE_DIR)
    return path


def write_private(path: str | Path, content: str | bytes | Writer) -> Path:
    """Write ``content`` (text, bytes, or a function writing to a text handle) to ``path``
    atomically with mode 0600; the folder is created 0700 when missing."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    return _write(path, content, PRIVATE_FILE)


def write_public(path: str | Path, content: str | bytes | Writer) -> Path:
    """Write a shareable file (masked numbers only) atomically with mode 0644."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write(path, content, PUBLIC_FILE)


def _write(path: Path, content: str | bytes | Writer, mode: int) -> Path:
    _refuse_link(path, "file")
    if path.exists() and not path.is_file():
        raise InputError(f"{path} is a folder or a special file: give a file name to write")
    with _temporary(path, mode) as handle:
        if isinstance(content, bytes):
            handle.buffer.write(content)
        elif isinstance(content, str):
            handle.write(content)
        else:
            content(handle)
    return path


@contextlib.contextmanager
def _temporary(final: Path, mode: int) -> Iterator[IO[str]]:
    """A new temporary file beside ``final`` (O_EXCL, O_NOFOLLOW, ``mode`` from creation),
    renamed over ``final`` when the block ends without error, removed otherwise."""
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, mode)
    except OSError as exc:
        raise InputError(f"cannot write {final}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, mode)  # the umask never widens or narrows it
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _refuse_link(final, "file")
        os.replace(tmp, final)
    except OSError as exc:
        raise InputError(f"cannot write {final}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(final.parent)


def _refuse_link(path: Path, what: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"{path} is a symbolic link: drawkit does not write a {what} through one")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
