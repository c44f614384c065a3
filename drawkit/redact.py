"""Keep secrets and phone numbers out of text: log records, error messages, reports.

``redact(text)`` masks anything shaped like a Nigerian MSISDN and any PostHog key
(``phx_...``/``phc_...``) or registered secret. ``install_log_redaction()`` puts a
filter on drawkit's loggers so every record is redacted before a handler sees it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache

# Any spelling drawkit.msisdn accepts, inside text: +234 803 123 4567, 2348031234567,
# 002348031234567, 23408031234567, (0803) 123-4567, 0803/123/4567, 8031234567, and the
# URL-encoded %2B2348031234567 that HTTP libraries log. The mobile prefixes (0701..0729,
# 0802..0819, 0901..0916, ...) come from libphonenumber's metadata, not a hand list.
_SEP = r"[\s\-./()\u00a0]{0,3}"


@lru_cache(maxsize=1)
def _msisdn_in_text() -> re.Pattern[str]:
    """The pattern, built on first use (the numbering plan's libraries load then)."""
    from drawkit.msisdn import mobile_prefix_regex

    return re.compile(
        rf"(?<![\w+])(?:(?:\+|%2B|00)?\(?234\)?{_SEP}\(?0?|\(?0)?"
        rf"{mobile_prefix_regex(_SEP)}(?:{_SEP}\d){{6}}(?!\d)",
        re.IGNORECASE,
    )
_KEY_IN_TEXT = re.compile(r"\b(ph[xc]_)[A-Za-z0-9_\-]{8,}")
_registered_secrets: set[str] = set()


def register_secrets(secrets: Iterable[str | None]) -> None:
    """Add values (API keys) that must never appear in redacted text."""
    _registered_secrets.update(s for s in secrets if s and len(s) >= 6)


def redact(text: str) -> str:
    """Mask MSISDNs and API keys in ``text``."""
    for secret in _registered_secrets:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    text = _KEY_IN_TEXT.sub(lambda m: m.group(1) + "[REDACTED]", text)
    if sum(c.isdigit() for c in text) < 10:  # no room for a phone number: nothing to load
        return text
    from drawkit.msisdn import mask

    return _msisdn_in_text().sub(lambda m: mask(re.sub("(?i)%2B", "+", m.group(0))), text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(logger_name: str = "drawkit") -> None:
    """Attach the redacting filter to ``logger_name`` and its handlers (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    for handler in logging.getLogger().handlers + logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
