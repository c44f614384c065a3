"""The one writer for private and public files: atomic, 0600/0700, never through a link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from drawkit.errors import InputError
from drawkit.store import private_dir, write_private, write_public


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_file_is_owner_only_even_over_an_open_file(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_private(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600


def test_private_file_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = write_private(tmp_path / "fresh" / "winners.csv", b"a,b\n")
    finally:
        os.umask(old)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_writer_function_streams_into_the_file(tmp_path: Path) -> None:
    path = write_public(tmp_path / "p.csv", lambda handle: handle.write("x\ny\n"))
    assert path.read_text() == "x\ny\n" and mode(path) == 0o644


def test_symlink_at_the_target_is_refused_and_left_alone(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    link = tmp_path / "record.json"
    link.symlink_to(elsewhere)
    with pytest.raises(InputError, match="symbolic link"):
        write_private(link, "secret")
    assert elsewhere.read_text() == "untouched"


def test_directory_at_the_target_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match="folder"):
        write_public(tmp_path / "out", "x")


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    write_private(target, "kept")

    def broken(handle):
        handle.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match="No space left"):
        write_private(target, broken)
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_private_dir_fixes_the_mode_and_refuses_a_link(tmp_path: Path) -> None:
    folder = tmp_path / "private"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)
    assert mode(private_dir(folder)) == 0o700
    (tmp_path / "link").symlink_to(folder)
    with pytest.raises(InputError, match="symbolic link"):
        private_dir(tmp_path / "link")
