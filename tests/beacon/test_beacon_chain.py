"""Chain parameters: quicknet pinned, drand's chain hash, strict /info parsing, round times."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from drawkit.beacon import LOCAL_TEST_BEACON_ID, QUICKNET, QUICKNET_HASH, ChainInfo, chain_hash
from drawkit.errors import BeaconFormatError, BeaconNotAuthenticError, InputError

# quicknet's /info as drand-client's QUICKNET_CHAIN_INFO gives it (docs/beacon.md).
QUICKNET_INFO = {
    "public_key": "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c"
    "3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a"
    "4bc09e76eae8991ef5ece45a",
    "period": 3,
    "genesis_time": 1692803367,
    "hash": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    "groupHash": "f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e",
    "schemeID": "bls-unchained-g1-rfc9380",
    "metadata": {"beaconID": "quicknet"},
}


def _info(**changes):
    payload = copy.deepcopy(QUICKNET_INFO)
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


def test_quicknet_info_parses_to_the_pinned_chain():
    chain = ChainInfo.from_json(QUICKNET_INFO, expected_hash=QUICKNET_HASH)
    assert chain == QUICKNET
    assert chain.is_quicknet and not chain.is_local_test_chain
    assert chain.to_json() == QUICKNET_INFO


def test_quicknet_chain_hash_is_reproduced_from_its_parameters():
    assert chain_hash(3, 1692803367, QUICKNET.public_key, QUICKNET.group_hash,
                      "quicknet") == QUICKNET_HASH  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {"period": 30},
        {"genesis_time": 1692803368},
        {"groupHash": "00" * 32},
        {"metadata": {"beaconID": "default"}},
        {"metadata": {"beaconID": LOCAL_TEST_BEACON_ID}},
    ],
)
def test_altered_parameters_do_not_hash_to_the_chain_hash(changes):
    with pytest.raises(BeaconNotAuthenticError, match="does not match its parameters"):
        ChainInfo.from_json(_info(**changes))


def test_another_valid_key_under_the_quicknet_hash_is_refused():
    from drawkit.beacon.bls import G2_GENERATOR

    with pytest.raises(BeaconNotAuthenticError, match="does not match its parameters"):
        ChainInfo.from_json(_info(public_key=G2_GENERATOR.hex()))


def test_a_public_key_that_is_not_a_g2_point_is_refused():
    with pytest.raises(BeaconNotAuthenticError, match="public_key is not a point of G2"):
        ChainInfo.from_json(_info(public_key="9f" + "ff" * 95))
    with pytest.raises(BeaconNotAuthenticError, match="point at infinity"):
        ChainInfo.from_json(_info(public_key="c0" + "00" * 95))


def test_expected_hash_must_match():
    other = "11" * 32
    with pytest.raises(BeaconNotAuthenticError, match=f"not the expected {other}"):
        ChainInfo.from_json(QUICKNET_INFO, expected_hash=other)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"public_key": None}, "no 'public_key' field"),
        ({"hash": None}, "no 'hash' field"),
        ({"schemeID": None}, "no 'schemeID' field"),
        ({"period": "3"}, "'period' must be an integer, not str"),
        ({"period": 3.0}, "'period' must be an integer, not float"),
        ({"period": True}, "'period' must be an integer, not bool"),
        ({"period": 0}, "'period' must be an integer >= 1"),
        ({"genesis_time": -1}, "'genesis_time' must be an integer >= 0"),
        ({"hash": "52DB" + QUICKNET_HASH[4:]}, "'hash' must be 64 lowercase hex"),
        ({"hash": 5}, "'hash' must be a string"),
        ({"groupHash": "abc"}, "'groupHash' must be 64 lowercase hex"),
        ({"public_key": "83cf"}, "public_key must be 96 bytes, got 2"),
        ({"public_key": "xyz"}, "public_key is not hexadecimal"),
        ({"metadata": "quicknet"}, "'metadata' must be an object"),
        ({"schemeID": "pedersen-bls-chained"}, "'pedersen-bls-chained' is not supported"),
    ],
)
def test_malformed_info_is_an_error_naming_the_field(changes, message):
    with pytest.raises(BeaconFormatError, match=message):
        ChainInfo.from_json(_info(**changes))


def test_info_must_be_an_object():
    with pytest.raises(BeaconFormatError, match="must be a JSON object"):
        ChainInfo.from_json([QUICKNET_INFO])


# ------------------------------------------------------------------ round arithmetic
# (moved from drawkit/draw/beacon.py: the same behaviour, for any chain)


def test_round_one_is_published_at_genesis_then_every_period():
    assert QUICKNET.round_time(1) == QUICKNET.genesis == datetime(2023, 8, 23, 15, 9, 27,
                                                                  tzinfo=UTC)  # fmt: skip
    assert QUICKNET.round_time(21) - QUICKNET.round_time(1) == timedelta(seconds=60)
    assert QUICKNET.round_at(QUICKNET.genesis) == 1
    assert QUICKNET.round_at(QUICKNET.genesis + timedelta(seconds=2.9)) == 1
    assert QUICKNET.round_at(QUICKNET.genesis + timedelta(seconds=3)) == 2


@pytest.mark.parametrize("offset", [0.0, 0.5, 2.999, 3.0, 86_400.25])
def test_the_round_to_commit_to_is_published_after_the_commitment(offset):
    committed = QUICKNET.genesis + timedelta(seconds=offset)
    chosen = QUICKNET.round_after(committed)
    assert QUICKNET.round_time(chosen) > committed
    assert QUICKNET.round_time(chosen - 1) <= committed  # and it is the first such round


def test_round_arithmetic_follows_each_chains_own_genesis_and_period(chain):
    local = ChainInfo.from_json(chain.info())
    assert local.is_local_test_chain and not local.is_quicknet
    assert local.round_time(1).timestamp() == chain.genesis_time
    assert local.round_time(11) - local.round_time(1) == timedelta(seconds=10 * chain.period)
    now = datetime.now(UTC)
    assert local.round_at(now) in (chain.current_round(), chain.current_round() + 1)


def test_local_times_are_converted():
    lagos = datetime.fromisoformat("2026-11-25T00:10:00+01:00")
    assert QUICKNET.round_at(lagos) == QUICKNET.round_at(lagos.astimezone(UTC))


def test_bad_times_and_rounds_are_input_errors():
    with pytest.raises(InputError, match="no timezone"):
        QUICKNET.round_at(datetime(2026, 11, 25))  # noqa: DTZ001 - the point of the test
    with pytest.raises(InputError, match="before drand quicknet's genesis"):
        QUICKNET.round_at(QUICKNET.genesis - timedelta(seconds=1))
    with pytest.raises(InputError, match="rounds start at 1"):
        QUICKNET.round_url(0)
    with pytest.raises(InputError, match="rounds start at 1"):
        QUICKNET.round_time(0)


def test_round_url_names_the_relay_chain_and_round():
    assert QUICKNET.round_url(123) == f"https://api.drand.sh/{QUICKNET_HASH}/public/123"
    assert QUICKNET.round_url(7, "https://drand.cloudflare.com/") == (
        f"https://drand.cloudflare.com/{QUICKNET_HASH}/public/7"
    )
