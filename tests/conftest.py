"""Hypothesis settings for the whole suite.

`make test` (and CI) run the property tests derandomized: the same examples every run, so a
failure is reproducible and CI never fails by luck. `make reliability` sets
DRAWKIT_RELIABILITY_REPORT and fuzzes with fresh random examples each run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "drawkit",
    deadline=None,  # a shared 2-core CI machine must not turn slowness into failures
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="DRAWKIT_RELIABILITY_REPORT" not in os.environ,
    print_blob=True,
)
settings.load_profile("drawkit")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _scratch_workspace(tmp_path_factory, monkeypatch):
    """Every test's default workspace is a fresh temporary folder, never the checkout's."""
    monkeypatch.setenv("DRAWKIT_WORKSPACE", str(tmp_path_factory.mktemp("workspace")))


# ------------------------------------------------------------------ the result signing key
# A throwaway Ed25519 key made for this test session (never a key in the repository):
# every test process and its children sign results with it (DRAWKIT_SIGNING_KEY).

import secrets  # noqa: E402

from drawkit.contract import ResultSigner  # noqa: E402

TEST_SIGNING_KEY = secrets.token_hex(32)
TEST_SIGNER = ResultSigner.from_text(TEST_SIGNING_KEY)


@pytest.fixture(scope="session", autouse=True)
def _session_signing_key():
    """DRAWKIT_SIGNING_KEY holds the session's throwaway key, for session fixtures too
    (autouse: set before any other fixture of the session runs)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRAWKIT_SIGNING_KEY", TEST_SIGNING_KEY)
        yield


@pytest.fixture(autouse=True)
def _signing_key(monkeypatch):
    """DRAWKIT_SIGNING_KEY holds the session's throwaway key in every test (a test may
    change or remove it; the next one gets it back)."""
    monkeypatch.setenv("DRAWKIT_SIGNING_KEY", TEST_SIGNING_KEY)


@pytest.fixture
def result_signer() -> ResultSigner:
    """The session's throwaway result signing key (the one DRAWKIT_SIGNING_KEY holds)."""
    return TEST_SIGNER


# ------------------------------------------------------------------ beacons for tests
# Records are drawn on rounds of a local test chain (drawkit.offline.drand_chain: its own
# throwaway key), signed offline; verify accepts them only with accept_test_chain=True.

from datetime import UTC, datetime, timedelta  # noqa: E402

from drawkit.offline.drand_chain import LocalDrandChain  # noqa: E402

TEST_GENESIS = 1_700_000_000  # 2023-11-14: every round of interest is in the past


def chain_record(chain: LocalDrandChain):
    """The chain as a draw record keeps it."""
    from drawkit.draw import BeaconChain

    info = chain.info()
    return BeaconChain(info["hash"], info["public_key"], info["period"], info["genesis_time"],
                       info["groupHash"], info["schemeID"], info["metadata"]["beaconID"])


class SignedRounds:
    """Rounds of one offline test chain: evidence for the engine, and the times around them."""

    def __init__(self, chain: LocalDrandChain) -> None:
        self.chain = chain
        self.record_chain = chain_record(chain)

    def published(self, round_number: int) -> datetime:
        return datetime.fromtimestamp(self.chain.round_time(round_number), UTC)

    def committed_at(self, round_number: int) -> datetime:
        """A commitment time two minutes before the round exists."""
        return self.published(round_number) - timedelta(minutes=2)

    def drawn_at(self, round_number: int) -> datetime:
        return self.published(round_number) + timedelta(seconds=5)

    def evidence(self, round_number: int, signature: bytes | None = None):
        import hashlib

        from drawkit.draw import BeaconEvidence

        signature = signature or self.chain.sign(round_number)
        return BeaconEvidence(round_number, signature.hex(), hashlib.sha256(signature).digest(),
                              self.record_chain, "offline test signature")

    def commit_and_draw(self, participants, config, day, ledger_dir, round_number=1000, *,
                        secret=None, result_public_key=TEST_SIGNER.public_key, **draw_options):
        """Commit to ``round_number`` two minutes before it exists (naming the session's
        result signing key, as the application commits), then draw on it."""
        from drawkit.draw import commit_draw, run_draw

        commit_draw(participants, config, day, ledger_dir=ledger_dir, beacon_round=round_number,
                    secret=secret, beacon_chain=self.chain.chain_hash,
                    now=self.committed_at(round_number),
                    draw_id=draw_options.get("draw_id"), result_public_key=result_public_key)
        return run_draw(participants, config, day, ledger_dir=ledger_dir, secret=secret,
                        evidence=self.evidence(round_number), now=self.drawn_at(round_number),
                        **draw_options)


@pytest.fixture(scope="session")
def signed_rounds() -> SignedRounds:
    """Offline-signed rounds of a local test chain (no server)."""
    return SignedRounds(LocalDrandChain(period=3, genesis_time=TEST_GENESIS))


@pytest.fixture(scope="session")
def drand_chain():
    """A local test chain served on loopback, one round a second."""
    with LocalDrandChain(period=1) as chain:
        yield chain


@pytest.fixture
def drand_env(drand_chain, monkeypatch) -> dict[str, str]:
    """This process's environment pointed at the local test chain."""
    env = {"DRAWKIT_DRAND_RELAYS": drand_chain.url,
           "DRAWKIT_DRAND_CHAIN_HASH": drand_chain.chain_hash}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
