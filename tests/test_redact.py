"""Redaction of phone numbers and keys in text and log records."""

from __future__ import annotations

import logging

import pytest

from drawkit.redact import RedactingFilter, install_log_redaction, redact, register_secrets


@pytest.mark.parametrize(
    "number",
    ["+2348031234567", "2348031234567", "08031234567", "0803-123-4567", "+234 803 123 4567"],
)
def test_numbers_in_text_are_masked(number: str) -> None:
    text = redact(f"winner {number} drew ticket 42")
    assert "0803****567" in text
    assert "1234567" not in text.replace("0803****567", "")
    assert "ticket 42" in text


def test_keys_and_registered_secrets_are_removed() -> None:
    text = redact("key phx_abcdefghijklmnop and phc_ABCDEFGHIJKLMNOP0")
    assert "abcdefghijklmnop" not in text and "ABCDEFGHIJKLMNOP0" not in text
    assert text.count("[REDACTED]") == 2
    register_secrets(["s3cr3t-operator-value", None, "tiny"])
    assert "s3cr3t-operator-value" not in redact("secret=s3cr3t-operator-value")
    assert redact("tiny") == "tiny"  # too short to register: would mangle ordinary text


def test_ordinary_numbers_survive() -> None:
    text = "draw 2026-11-27: 1500 participants, 123456 entries, amount 5000"
    assert redact(text) == text


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("drawkit")
    install_log_redaction()  # filters the drawkit logger and the handlers present now
    with caplog.at_level(logging.INFO, logger="drawkit"):
        logger.info("paying %s with key %s", "08031234567", "phx_abcdefghijklmnop")
    assert "08031234567" not in caplog.text
    assert "abcdefghijklmnop" not in caplog.text
    assert "0803****567" in caplog.text
    install_log_redaction()  # idempotent
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1


@pytest.mark.parametrize(
    "number", ["0720 123 4568", "07201234568", "+234 720 123 4568", "0916-123-4567"]
)
def test_every_mobile_prefix_of_the_numbering_plan_is_masked(number: str) -> None:
    text = redact(f"rejected row: {number} (bad amount)")
    assert number not in text
    assert "****" in text


@pytest.mark.parametrize("number", ["07201234568", "+2347201234568", "2349161234567"])
def test_leak_scan_finds_072x_numbers(number: str, tmp_path) -> None:
    from drawkit.reports.scan import scan_text

    leaks = scan_text(f"<td>{number}</td>", tmp_path / "report.html")
    assert [leak.kind for leak in leaks] == ["unmasked phone number"]
    assert scan_text("<td>0720****568</td>", tmp_path / "report.html") == []
