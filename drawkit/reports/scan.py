"""Scan report files for leaks: API keys and unmasked Nigerian phone numbers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from drawkit.config import Settings
from drawkit.errors import DrawkitError
from drawkit.msisdn import mask, mobile_prefix_regex

# A full number: +2348031234567, 2348031234567 or 08031234567 (07201234568 too), not
# inside a longer token. The mobile prefixes come from libphonenumber's metadata
# (drawkit.msisdn.mobile_prefix_regex), not a hand list.
_MSISDN = re.compile(
    rf"(?<![0-9A-Za-z])(?:\+?234|0){mobile_prefix_regex()}\d{{6}}(?![0-9A-Za-z])"
)
_KEY = re.compile(r"\bph[xc]_[A-Za-z0-9]{12,}")
# Inline images are base64: skip them, any digit run inside is noise.
_DATA_URI = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s\\n]+")
_JSON_PNG = re.compile(r'"image/png":\s*"[A-Za-z0-9+/=\\n]*"')


@dataclass(frozen=True)
class Leak:
    """One leak: the file, what kind, and a masked excerpt."""

    path: Path
    kind: str
    excerpt: str

    def format(self) -> str:
        """One line naming the file and what leaked (masked)."""
        return f"{self.path.name}: {self.kind} ({self.excerpt})"


def environment_secrets() -> tuple[str, ...]:
    """The PostHog keys set in this process's environment (empty when none)."""
    try:
        return Settings.from_env(require_private=False).secrets
    except DrawkitError:
        return ()


def scan_text(text: str, path: Path, secrets: Iterable[str] = ()) -> list[Leak]:
    """Leaks in one document's text (inline images removed first)."""
    text = _JSON_PNG.sub('"image/png": ""', _DATA_URI.sub("data:image/png;base64,", text))
    leaks = [
        Leak(path, "secret from the environment", f"{s[:4]}…")
        for s in secrets
        if s and len(s) >= 6 and s in text
    ]
    leaks += [Leak(path, "API key", m.group(0)[:4] + "…") for m in _KEY.finditer(text)]
    leaks += [Leak(path, "unmasked phone number", mask(m.group(0))) for m in _MSISDN.finditer(text)]
    return leaks


def scan_files(paths: Iterable[Path], secrets: Iterable[str] | None = None) -> list[Leak]:
    """Leaks in every file of ``paths`` (read as UTF-8 text)."""
    found_secrets = tuple(secrets) if secrets is not None else environment_secrets()
    leaks: list[Leak] = []
    for path in paths:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        leaks += scan_text(text, Path(path), found_secrets)
    return leaks
