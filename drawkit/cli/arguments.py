"""Argument types shared by the subcommands: a bad value is named in argparse's error."""

from __future__ import annotations

import argparse
from datetime import date


def iso_date(text: str) -> date:
    """A date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def hex_bytes(text: str) -> bytes:
    """Bytes written in hexadecimal (a beacon value)."""
    try:
        return bytes.fromhex(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError("the beacon value must be hexadecimal") from exc
