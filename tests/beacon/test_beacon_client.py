"""DrandClient over real HTTP on loopback against local drand chains (one server per relay)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from beacon_support import FAST, closed_port_url, make_client

from drawkit.beacon import (
    DEFAULT_RELAYS,
    QUICKNET,
    BeaconRetryPolicy,
    ChainInfo,
    DrandClient,
    chain_hash_from_env,
    relays_from_env,
    verify_round,
)
from drawkit.errors import (
    BeaconNotYetPublishedError,
    BeaconUnavailableError,
    SettingsError,
)


def test_a_round_is_fetched_and_authenticated(chain, info):
    beacon = make_client([chain.url], info).round(2)
    assert beacon == verify_round(info, 2, chain.sign(2))
    assert beacon.chain_hash == chain.chain_hash
    assert beacon.published_at.timestamp() == chain.round_time(2)


def test_latest_is_the_current_round(chain, info):
    before = chain.current_round()
    beacon = make_client([chain.url], info).latest()
    assert before <= beacon.round <= chain.current_round()
    assert beacon == verify_round(info, beacon.round, chain.sign(beacon.round))


def test_discover_authenticates_the_chain_info_by_its_hash(chain):
    client = DrandClient.discover(chain.chain_hash, [chain.url], timeout=0.5, policy=FAST)
    assert client.chain == ChainInfo.from_json(chain.info())
    assert client.chain.is_local_test_chain
    assert client.chain_info() == client.chain
    assert client.round(1).round == 1


def test_discover_of_a_chain_the_relay_does_not_serve_is_unavailable(chain):
    with pytest.raises(BeaconUnavailableError, match="HTTP 404"):
        DrandClient.discover("ab" * 32, [chain.url], timeout=0.5, policy=FAST)


def test_a_pinned_chain_is_not_served_by_a_relay_of_another_chain(chain):
    with pytest.raises(BeaconUnavailableError, match=chain.url):
        make_client([chain.url], QUICKNET).round(1)


# ------------------------------------------------------------------ failover


def test_first_relay_down_the_second_is_used(chain, info):
    client = make_client([closed_port_url(), chain.url], info)
    assert client.round(3) == verify_round(info, 3, chain.sign(3))


def test_first_relay_failing_the_second_is_used(chain, info, relay_for):
    chain.set_fault("fail")
    second = relay_for()
    assert make_client([chain.url, second.url], info).round(3).round == 3
    assert second.requests_for("/public/3") == 1


def test_first_relay_hanging_the_second_is_used_after_the_timeout(chain, info, relay_for):
    chain.set_fault("hang", hang_seconds=10)
    second = relay_for()
    started = time.monotonic()
    beacon = make_client([chain.url, second.url], info, timeout=0.3).round(3)
    assert beacon.round == 3
    assert time.monotonic() - started < 5  # the timeout, not the hang (loose bound)


@pytest.mark.parametrize("fault", ["garbage", "forge", "huge"])
def test_a_relay_answering_a_wrong_value_is_skipped_with_a_warning(
    chain, info, relay_for, caplog, fault
):
    chain.set_fault(fault)
    second = relay_for()
    with caplog.at_level(logging.WARNING, logger="drawkit.beacon"):
        beacon = make_client([chain.url, second.url], info).round(4)
    assert beacon == verify_round(info, 4, chain.sign(4))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(chain.url in w and "skipped" in w for w in warnings), warnings


def test_a_forging_relay_is_not_asked_again(chain, info):
    chain.set_fault("forge")
    with pytest.raises(BeaconUnavailableError, match="not authentic") as caught:
        make_client([chain.url], info).round(2)
    assert "does not verify" in str(caught.value)
    assert chain.requests_for("/public/2") == 1


def test_a_transient_failure_is_retried_on_the_next_pass(chain, info):
    chain.set_fault("fail", times=1)
    assert make_client([chain.url], info).round(2).round == 2
    assert chain.requests_for("/public/2") == 2  # one 500, then the answer


def test_total_outage_is_unavailable_within_the_time_bound(chain, info, relay_for):
    chain.set_fault("hang", hang_seconds=30)
    failing = relay_for()
    failing.set_fault("fail")
    down = closed_port_url()
    policy = BeaconRetryPolicy(max_passes=10, max_seconds=2.0, backoff_initial=0.1)
    client = make_client([down, chain.url, failing.url], info, timeout=0.3, policy=policy)
    started = time.monotonic()
    with pytest.raises(BeaconUnavailableError) as caught:
        client.round(2)
    assert time.monotonic() - started < 8  # bounded by max_seconds (loosely: a shared CI box)
    message = str(caught.value)
    for relay in (down, chain.url, failing.url):
        assert relay in message
    assert "timed out" in message and "HTTP 500" in message and "connection failed" in message


# ------------------------------------------------------------------ rounds not yet published


@pytest.mark.parametrize("status", [425, 404])
def test_a_future_round_is_not_yet_published(chain, info, relay_for, status):
    chain.set_future_status(status)
    second = relay_for()
    second.set_future_status(status)
    future = chain.current_round() + 100
    started = time.monotonic()
    with pytest.raises(BeaconNotYetPublishedError, match=f"round {future} is not published yet"):
        make_client([chain.url, second.url], info).round(future)
    assert time.monotonic() - started < 3  # no waiting, no retry passes
    assert chain.requests_for(f"/public/{future}") == 1


def test_a_future_round_with_every_relay_down_is_still_not_yet_published(info):
    future = info.round_at(datetime.now(UTC)) + 100
    with pytest.raises(BeaconNotYetPublishedError, match="connection failed"):
        make_client([closed_port_url()], info).round(future)


def test_wait_for_round_waits_until_the_round_is_published(chain, info):
    target = chain.current_round() + 2
    seen = []
    beacon = make_client([chain.url], info).wait_for_round(target, max_wait=10,
                                                           on_progress=seen.append)  # fmt: skip
    assert beacon == verify_round(info, target, chain.sign(target))
    assert time.time() >= chain.round_time(target)
    states = [p.state for p in seen]
    assert states[0] == "waiting" and "fetching" in states
    assert all(p.round == target for p in seen)
    assert seen[0].seconds_to_due > 0 >= seen[-1].seconds_to_due


def test_wait_for_round_refuses_a_round_due_after_the_bound(chain, info):
    target = chain.current_round() + 60
    with pytest.raises(BeaconNotYetPublishedError, match="later than the wait bound of 2s"):
        make_client([chain.url], info).wait_for_round(target, max_wait=2)
    assert chain.requests_for(f"/public/{target}") == 0


def test_wait_for_round_gives_up_at_the_bound_when_relays_are_down(chain, info):
    chain.set_fault("fail")
    seen = []
    started = time.monotonic()
    with pytest.raises(BeaconUnavailableError, match="within the wait bound of 1.5s"):
        make_client([chain.url], info).wait_for_round(1, max_wait=1.5, on_progress=seen.append,
                                                      poll_seconds=0.2)  # fmt: skip
    assert time.monotonic() - started < 6
    assert "retrying" in [p.state for p in seen]


# ------------------------------------------------------------------ transport rules


def test_a_redirect_is_refused_and_not_followed(chain, info, relay_for):
    target = relay_for()
    chain.set_fault("redirect", redirect_to=target.url)
    with pytest.raises(BeaconUnavailableError, match="redirects are refused"):
        make_client([chain.url], info).round(2)
    assert target.requests_for("/public/2") == 0
    assert make_client([chain.url, target.url], info).round(2).round == 2
    assert target.requests_for("/public/2") == 1  # asked directly, once


@pytest.mark.parametrize(
    ("relay", "message"),
    [
        ("http://api.drand.sh", "plain http to api.drand.sh"),
        ("http://10.0.0.7:8080", "plain http to 10.0.0.7"),
        ("ftp://api.drand.sh", "must be an https URL"),
        ("api.drand.sh", "must be an https URL"),
        ("https://api.drand.sh/?chain=x", "must not have a query"),
    ],
)
def test_plain_http_off_loopback_and_non_urls_are_refused(relay, message):
    with pytest.raises(SettingsError, match=message):
        DrandClient([relay])


def test_loopback_http_and_https_relays_are_accepted():
    client = DrandClient(["http://127.0.0.1:9/", "http://[::1]:9", "https://relay.example/"])
    assert client.relays == ("http://127.0.0.1:9", "http://[::1]:9", "https://relay.example")


def test_defaults_are_quicknet_and_the_public_relays():
    client = DrandClient()
    assert client.chain == QUICKNET
    assert client.relays == DEFAULT_RELAYS == (
        "https://api.drand.sh", "https://api2.drand.sh", "https://api3.drand.sh",
        "https://drand.cloudflare.com",
    )  # fmt: skip
    with pytest.raises(SettingsError, match="no drand relay"):
        DrandClient([])


def test_relays_from_env():
    assert relays_from_env({}) == DEFAULT_RELAYS
    assert relays_from_env({"DRAWKIT_DRAND_RELAYS": " "}) == DEFAULT_RELAYS
    env = {"DRAWKIT_DRAND_RELAYS": "https://a.example/, http://127.0.0.1:8020,https://a.example"}
    assert relays_from_env(env) == ("https://a.example", "http://127.0.0.1:8020")
    with pytest.raises(SettingsError, match="DRAWKIT_DRAND_RELAYS .* plain http to b.example"):
        relays_from_env({"DRAWKIT_DRAND_RELAYS": "https://a.example,http://b.example"})
    with pytest.raises(SettingsError, match="names no relay"):
        relays_from_env({"DRAWKIT_DRAND_RELAYS": ", ,"})


def test_chain_hash_from_env():
    assert chain_hash_from_env({}) is None
    assert chain_hash_from_env({"DRAWKIT_DRAND_CHAIN_HASH": QUICKNET.hash.upper()}) == QUICKNET.hash
    with pytest.raises(SettingsError, match="DRAWKIT_DRAND_CHAIN_HASH must be"):
        chain_hash_from_env({"DRAWKIT_DRAND_CHAIN_HASH": "52db"})


def test_wait_for_a_published_round_with_no_wait_fetches_it_now(chain, info):
    beacon = make_client([chain.url], info).wait_for_round(2, max_wait=0)
    assert beacon == verify_round(info, 2, chain.sign(2))
