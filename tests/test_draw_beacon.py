"""drand quicknet round arithmetic: rounds every 3 s from genesis, the next round is future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drawkit.draw.beacon import (
    QUICKNET_CHAIN_HASH,
    QUICKNET_GENESIS,
    round_after,
    round_at,
    round_time,
    round_url,
)
from drawkit.errors import InputError


def test_round_one_is_published_at_genesis_then_every_three_seconds() -> None:
    assert round_time(1) == QUICKNET_GENESIS == datetime(2023, 8, 23, 15, 9, 27, tzinfo=UTC)
    assert round_time(21) - round_time(1) == timedelta(seconds=60)
    assert round_at(QUICKNET_GENESIS) == 1
    assert round_at(QUICKNET_GENESIS + timedelta(seconds=2.9)) == 1
    assert round_at(QUICKNET_GENESIS + timedelta(seconds=3)) == 2


@pytest.mark.parametrize("offset", [0.0, 0.5, 2.999, 3.0, 86_400.25])
def test_the_round_to_commit_to_is_published_after_the_commitment(offset: float) -> None:
    committed = QUICKNET_GENESIS + timedelta(seconds=offset)
    chosen = round_after(committed)
    assert round_time(chosen) > committed
    assert round_time(chosen - 1) <= committed  # and it is the first such round


def test_local_times_are_converted() -> None:
    lagos = datetime.fromisoformat("2026-11-25T00:10:00+01:00")
    assert round_at(lagos) == round_at(lagos.astimezone(UTC))


def test_bad_times_and_rounds_are_input_errors() -> None:
    with pytest.raises(InputError, match="no timezone"):
        round_at(datetime(2026, 11, 25))  # noqa: DTZ001 - the point of the test
    with pytest.raises(InputError, match="before drand quicknet's genesis"):
        round_at(QUICKNET_GENESIS - timedelta(seconds=1))
    with pytest.raises(InputError, match="rounds start at 1"):
        round_url(0)


def test_round_url_names_the_chain_and_round() -> None:
    assert round_url(123) == f"https://api.drand.sh/{QUICKNET_CHAIN_HASH}/public/123"
