"""The local test chain speaks drand's HTTP API, signs real rounds and says what it is."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from drawkit.beacon import LOCAL_TEST_BEACON_ID, QUICKNET, ChainInfo, chain_hash, verify_round
from drawkit.offline.drand_chain import BEACON_ID, NOTE, LocalDrandChain


def test_info_has_drands_shape_and_marks_the_chain_as_a_test_chain(chain):
    answer = requests.get(f"{chain.url}/{chain.chain_hash}/info", timeout=5)
    assert answer.status_code == 200
    info = answer.json()
    assert set(info) == {"public_key", "period", "genesis_time", "hash", "groupHash",
                         "schemeID", "metadata"}  # fmt: skip
    assert info["schemeID"] == "bls-unchained-g1-rfc9380"
    assert info["metadata"] == {"beaconID": BEACON_ID, "note": NOTE}
    assert "not public randomness" in NOTE
    assert BEACON_ID == LOCAL_TEST_BEACON_ID  # the client recognises it by this id
    assert requests.get(f"{chain.url}/info", timeout=5).json() == info
    assert requests.get(f"{chain.url}/chains", timeout=5).json() == [chain.chain_hash]


def test_its_chain_hash_is_computed_the_way_drand_does(chain):
    assert chain.chain_hash == chain_hash(
        chain.period, chain.genesis_time, chain.public_key, chain.group_hash, BEACON_ID
    )
    assert ChainInfo.from_json(chain.info()).hash == chain.chain_hash


def test_each_chain_has_its_own_throwaway_key_never_quicknets():
    a, b = LocalDrandChain(period=1), LocalDrandChain(period=1)
    assert a.public_key != b.public_key and a.chain_hash != b.chain_hash
    assert QUICKNET.public_key not in (a.public_key, b.public_key)
    assert "_secret" not in repr(a) and str(a._secret) not in repr(a)


def test_rounds_are_signed_with_drands_scheme(chain):
    answer = requests.get(f"{chain.url}/{chain.chain_hash}/public/3", timeout=5).json()
    assert set(answer) == {"round", "randomness", "signature"}
    signature = bytes.fromhex(answer["signature"])
    assert answer["randomness"] == hashlib.sha256(signature).hexdigest()
    info = ChainInfo.from_json(chain.info())
    assert verify_round(info, 3, signature).randomness_hex == answer["randomness"]
    latest = requests.get(f"{chain.url}/{chain.chain_hash}/public/latest", timeout=5).json()
    assert latest["round"] >= 3


def test_rounds_not_yet_due_are_never_answered(chain):
    future = chain.current_round() + 50
    path = f"{chain.url}/{chain.chain_hash}/public/{future}"
    assert requests.get(path, timeout=5).status_code == 425
    chain.set_future_status(404)
    assert requests.get(path, timeout=5).status_code == 404


def test_unknown_chains_paths_and_rounds(chain):
    assert requests.get(f"{chain.url}/{'ab' * 32}/info", timeout=5).status_code == 404
    assert requests.get(f"{chain.url}/nothing", timeout=5).status_code == 404
    for bad in ("0", "-1", "x", str(2**64)):
        url = f"{chain.url}/{chain.chain_hash}/public/{bad}"
        assert requests.get(url, timeout=5).status_code == 400, bad
    assert requests.post(f"{chain.url}/info", timeout=5).status_code == 405


def test_genesis_in_the_future_has_no_round_yet():
    with LocalDrandChain(period=1, genesis_time=int(time.time()) + 600) as later:
        assert later.current_round() == 0
        answer = requests.get(f"{later.url}/{later.chain_hash}/public/latest", timeout=5)
        assert answer.status_code == 425


def test_fault_switches(chain, relay_for):
    url = f"{chain.url}/{chain.chain_hash}/public/2"
    chain.set_fault("fail")
    assert requests.get(url, timeout=5).status_code == 500
    chain.set_fault("garbage")
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()
    chain.set_fault("huge")
    assert len(requests.get(url, timeout=5).content) > 1 << 20
    chain.set_fault("forge")
    forged = requests.get(url, timeout=5).json()
    assert forged["round"] == 2 and forged["signature"] != chain.sign(2).hex()
    other = relay_for()
    chain.set_fault("redirect", redirect_to=other.url)
    moved = requests.get(url, timeout=5, allow_redirects=False)
    assert moved.status_code == 302
    assert moved.headers["Location"] == f"{other.url}/{chain.chain_hash}/public/2"
    chain.set_fault("hang", hang_seconds=5)
    with pytest.raises(requests.Timeout):
        requests.get(url, timeout=0.3)
    chain.set_fault("fail", times=1)
    assert requests.get(url, timeout=5).status_code == 500
    assert requests.get(url, timeout=5).status_code == 200
    with pytest.raises(ValueError, match="unknown fault"):
        chain.set_fault("explode")
    with pytest.raises(ValueError, match="needs redirect_to"):
        chain.set_fault("redirect")


def test_another_relay_serves_the_same_chain(chain, relay_for):
    twin = relay_for()
    assert twin.url != chain.url and twin.chain_hash == chain.chain_hash
    assert twin.info() == chain.info()
    assert twin.sign(7) == chain.sign(7)


def test_stop_releases_hanging_answers():
    server = LocalDrandChain(period=1).start()
    server.set_fault("hang", hang_seconds=60)
    errors: list[Exception] = []

    def ask() -> None:
        try:
            requests.get(f"{server.url}/info", timeout=30)
        except requests.RequestException as exc:
            errors.append(exc)

    worker = threading.Thread(target=ask)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    worker.join(timeout=10)
    assert not worker.is_alive() and time.monotonic() - started < 10
    assert errors  # the hung request ends without an answer


def test_period_must_be_whole_seconds():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="period"):
            LocalDrandChain(period=bad)


def _ignore_sigint() -> None:  # what a non-interactive shell does to a background job
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_forever_prints_how_to_use_it_and_stops_on_signals_as_a_background_job(stop):
    code = "from drawkit.offline.drand_chain import serve_forever; serve_forever(port=0, period=1)"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_ignore_sigint,  # noqa: PLW1509
    )  # fmt: skip
    try:
        lines = []
        while not lines or not lines[-1].startswith("# Ctrl-C"):
            line = process.stdout.readline()
            assert line, f"no banner: {lines} {process.stderr.read()}"
            lines.append(line)
        relay = next(x.split("=", 1)[1].strip() for x in lines if "DRAWKIT_DRAND_RELAYS=" in x)
        chain_hash_line = next(x for x in lines if x.startswith("chain hash "))
        info = requests.get(f"{relay}/info", timeout=5).json()
        assert info["hash"] in chain_hash_line
        text = "".join(lines)
        assert "NOT public randomness" in text
        assert relay.startswith("http://127.0.0.1:")
        assert f"export DRAWKIT_DRAND_CHAIN_HASH={info['hash']}" in text
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
