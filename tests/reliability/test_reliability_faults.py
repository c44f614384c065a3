"""PostHog calls under injected faults: 5xx, 429 with Retry-After, dropped connections and
answers slower than the client's timeout, all over real HTTP against the emulator.

Every call must end in success or a clear PostHog* error within its time bound; no event
may be recorded twice; the client's retry counters must match the faults the emulator
logged; no API key and no phone number may reach a log line or an error message.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest

from drawkit.errors import (
    PostHogError,
    PostHogRateLimitedError,
    PostHogUnavailableError,
)
from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.posthog import PostHogClient
from drawkit.posthog.transport import RetryPolicy

pytestmark = pytest.mark.reliability

CALLS = 1000
POLICY = RetryPolicy(
    max_attempts=6,
    max_seconds=4.0,
    backoff_initial=0.01,
    backoff_max=0.05,
    max_retry_after=1.5,
    max_rate_limited_seconds=3.0,
    max_rate_limited_attempts=6,  # 429 answers in all, like max_attempts for other faults
    hogql_per_hour=None,  # the client's own HogQL budget is tested elsewhere
    timeout=(0.5, 1.0),
)
SLOW_SECONDS = 1.3  # longer than the read timeout: every slow answer is a timeout
TIME_BOUND = POLICY.max_seconds + POLICY.max_rate_limited_seconds + sum(POLICY.timeout) + 1.0
FAULTS = {
    "error_rate": 0.20,
    "error_status": 503,
    "rate_limit_rate": 0.10,
    "retry_after": 0,
    "drop_rate": 0.02,
    "slow_rate": 0.01,
    "slow_seconds": SLOW_SECONDS,
    "seed": 20261124,
}


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    emulator = EmulatorServer(calculation_seconds=0.0)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def client_for(server: EmulatorServer) -> PostHogClient:
    return PostHogClient(
        server.url, server.api_key, server.project_id, server.project_api_key, policy=POLICY
    )


def number(i: int) -> str:
    return f"+234803{1000000 + 37 * i:07d}"


def api_entries(server: EmulatorServer) -> list[dict]:
    return [e for e in server.request_log if not e["path"].startswith("/_emulator/")]


def one_call(client: PostHogClient, i: int, sent: dict[str, str]) -> None:
    """Call ``i``: mostly single-event captures with a uuid, some private API reads."""
    kind = i % 10
    if kind == 0:
        client.list_cohorts()
    elif kind == 1:
        client.get_persons(distinct_id=number(i))
    elif kind == 2:
        client.query("SELECT count() FROM events")
    else:
        event_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"drawkit-reliability/{i}"))
        sent[event_uuid] = "pending"
        client.capture_event("reliability_probe", number(i), {"i": i}, uuid=event_uuid)
        sent[event_uuid] = "ok"


def test_a_thousand_calls_under_faults(server, caplog, reliability) -> None:  # noqa: ANN001
    server.faults.update(**FAULTS)
    caplog.set_level(logging.DEBUG)
    client = client_for(server)
    sent: dict[str, str] = {}
    outcomes: Counter[str] = Counter()
    errors: list[str] = []
    slowest = 0.0
    for i in range(CALLS):
        started = time.monotonic()
        try:
            one_call(client, i, sent)
            outcomes["ok"] += 1
        except (PostHogUnavailableError, PostHogRateLimitedError) as exc:
            outcomes[type(exc).__name__] += 1
            errors.append(str(exc))
            assert exc.attempts >= 1 and exc.endpoint
        elapsed = time.monotonic() - started
        slowest = max(slowest, elapsed)
        assert elapsed <= TIME_BOUND, f"call {i} took {elapsed:.2f}s"
    time.sleep(SLOW_SECONDS + 0.3)  # let the server finish (and log) its slow answers
    server.faults.reset()

    # Every event captured once; a failed capture is there at most once.
    stored = Counter(server.store.events["uuid"].astype(str))
    assert all(count == 1 for count in stored.values())
    confirmed = [u for u, state in sent.items() if state == "ok"]
    assert all(stored[u] == 1 for u in confirmed), "a confirmed capture is missing"
    assert set(stored) <= set(sent)

    # The client's counters match what the emulator did.
    metrics = client.metrics_frame()
    log = api_entries(server)
    faulted = [e for e in log if e["fault"] is not None]
    # An answer that took the server longer than the read timeout failed for the client
    # too, fault or not (a loaded machine can make a HogQL query that slow).
    late = [e for e in log if e["fault"] is None and e.get("seconds", 0) >= POLICY.timeout[1]]
    assert int(metrics["requests"].sum()) == len(log)
    assert int(metrics["retries"].sum()) + int(metrics["errors"].sum()) == len(faulted) + len(late)
    assert int(metrics["errors"].sum()) == CALLS - outcomes["ok"]
    kinds = Counter(str(e["fault"]) for e in faulted)
    assert kinds["503"] and kinds["429"] and kinds["drop"] and kinds["slow"]

    # Secrets and numbers stay out of logs and messages.
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    text += "\n".join(errors)
    for secret in (server.api_key, server.project_api_key):
        assert secret not in text
    drawkit_text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("drawkit"))
    assert not any(number(i)[4:] in drawkit_text for i in range(CALLS))
    client.close()
    reliability.add(
        "faults: PostHog client",
        f"{CALLS:,} calls (70% single-event captures with uuids, 30% list cohorts / persons "
        f"by number / HogQL) against the emulator with 20% 503, 10% 429 (Retry-After 0), "
        f"2% dropped connections, 1% answers {SLOW_SECONDS}s past a {POLICY.timeout[1]}s "
        f"read timeout; {len(log):,} HTTP requests, faults injected: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
        CALLS,
        f"{outcomes['ok']:,} succeeded, {CALLS - outcomes['ok']} ended in a PostHog* error "
        f"naming endpoint and attempts; slowest call {slowest:.2f}s (bound {TIME_BOUND:.2f}s); "
        f"{len(confirmed):,} confirmed events stored exactly once "
        f"({server.store.duplicates_dropped} re-sent copies deduplicated by uuid); client "
        "requests == emulator log, retries + exhausted calls == faults"
        + (f" + {len(late)} answers slower than the timeout" if late else "")
        + "; no API key in "
        f"{len(caplog.records):,} DEBUG log records or error messages; no number in "
        "drawkit's log lines",
    )


def test_retry_after_is_honoured_and_counted(server, reliability) -> None:  # noqa: ANN001
    server.faults.update(retry_after=1, script=[429, 503, "drop", 429])
    client = client_for(server)
    started = time.monotonic()
    client.capture_event("probe", number(1), uuid=str(uuid.uuid4()))
    elapsed = time.monotonic() - started
    assert elapsed >= 2.0, "two 429s with Retry-After: 1 must wait at least 2 s"
    metrics = client.metrics_frame()
    assert int(metrics["retries"].sum()) == 4 and int(metrics["requests"].sum()) == 5
    faults = [e["fault"] for e in api_entries(server)]
    assert faults == [429, 503, "drop", 429, None]
    client.close()
    reliability.add(
        "faults: PostHog client",
        "scripted 429 (Retry-After: 1), 503, dropped connection, 429, then success",
        1,
        f"success after 5 requests in {elapsed:.2f}s (>= 2 s: Retry-After honoured); "
        "4 retries counted, matching the emulator log",
    )


def test_persistent_outage_ends_in_a_clear_error_within_the_bound(server, reliability) -> None:  # noqa: ANN001
    cases = {
        503: PostHogUnavailableError,
        429: PostHogRateLimitedError,
        "drop": PostHogUnavailableError,
        "slow": PostHogUnavailableError,
    }
    for fault, expected in cases.items():
        server.faults.reset()
        server.faults.update(retry_after=0, slow_seconds=SLOW_SECONDS, script=[fault] * 10)
        client = client_for(server)
        started = time.monotonic()
        with pytest.raises(expected) as info:
            client.capture_event("probe", number(2), uuid=str(uuid.uuid4()))
        elapsed = time.monotonic() - started
        assert elapsed <= TIME_BOUND
        message = str(info.value)
        assert "attempt" in message and "/batch/" in message
        assert server.project_api_key not in message and server.api_key not in message
        # It stops at max_attempts, or earlier once the total-time bound is spent.
        assert info.value.attempts == POLICY.max_attempts or (
            1 < info.value.attempts < POLICY.max_attempts and elapsed >= POLICY.max_seconds
        )
        client.close()
    time.sleep(SLOW_SECONDS)
    reliability.add(
        "faults: PostHog client",
        "a capture against a server that always answers 503 / 429 / drops / is too slow",
        len(cases),
        "PostHogUnavailableError or PostHogRateLimitedError after max_attempts (or once "
        f"max_seconds={POLICY.max_seconds:g} is spent), "
        f"within {TIME_BOUND:.2f}s, naming endpoint and attempts, no key in the message",
    )


def test_publishing_draws_under_faults_records_each_event_once(
    server,
    tmp_path,
    reliability,  # noqa: ANN001
    result_signer,  # noqa: ANN001
) -> None:
    """Publish several draws through PostHogDataSource while most requests fail (3 attempts
    per call); an operator re-runs a publish that ended in an error. Each event lands once."""
    import numpy as np

    from drawkit.config import PrizeTier, PromotionConfig
    from drawkit.draw import commit_draw, publish, run_draw
    from drawkit.sources.posthog import PostHogDataSource

    config = PromotionConfig(
        name="Fault promo",
        prizes=(PrizeTier("Grand", 100_000, 1), PrizeTier("Bundle", 5_000, 5)),
        reserves_per_tier=2,
    )
    participants = pd.DataFrame(
        {
            "msisdn": [number(i) for i in range(40)],
            "entries": np.random.default_rng(9).integers(1, 50, 40),
        }
    )
    for day in range(10, 16):  # committed naming the result key, as the application commits
        commit_draw(participants, config, date(2026, 11, day), ledger_dir=tmp_path / "ledger",
                    beacon_round=day, result_public_key=result_signer.public_key)
    records = [
        run_draw(
            participants,
            config,
            date(2026, 11, day),
            ledger_dir=tmp_path / "ledger",
            beacon=bytes([day]) * 32,
        )
        for day in range(10, 16)
    ]
    server.faults.update(
        **{**FAULTS, "error_rate": 0.4, "rate_limit_rate": 0.2, "slow_rate": 0.1, "drop_rate": 0.05}
    )
    policy = dataclasses.replace(POLICY, max_attempts=3)
    attempts = Counter()
    for record in records:
        for _ in range(20):
            attempts[record.draw_id] += 1
            client = PostHogClient(
                server.url, server.api_key, server.project_id, server.project_api_key, policy=policy
            )
            try:
                publish(record, PostHogDataSource(client, config, monitor=False), result_signer)
                break
            except PostHogError:
                continue
            finally:
                client.close()
        else:
            pytest.fail(f"publishing {record.draw_id} never succeeded")
    time.sleep(SLOW_SECONDS + 0.3)
    server.faults.reset()
    events = server.store.events
    draw_events = events[events["event"].isin(["draw_completed", "draw_winner"])]
    assert draw_events["uuid"].is_unique
    for record in records:
        mine = [p for p in draw_events["properties"] if p.get("draw_id") == record.draw_id]
        assert len(mine) == len(record.winners) + 1
    faulted = sum(1 for e in api_entries(server) if e["fault"] is not None)
    reliability.add(
        "faults: publish to PostHog",
        f"{len(records)} draws published through PostHogDataSource with 40% 503, 20% 429, "
        f"10% too slow, 5% dropped ({faulted} faults hit), 3 attempts per call; a publish "
        "that ended in a PostHog* error was run again",
        len(records),
        f"every draw's {len(records[0].winners) + 1} events in PostHog exactly once "
        f"({server.store.duplicates_dropped} re-sent copies deduplicated by uuid; publish "
        f"runs needed per draw: {sorted(attempts.values())})",
    )


def test_faults_do_not_change_the_eligible_participants(server, reliability) -> None:  # noqa: ANN001
    """The HogQL cohort path, paged and retried under faults, gives exactly the cohort a
    fault-free run gives (no page lost or repeated by a retry)."""
    from drawkit.app.tools import preload
    from drawkit.config import PromotionConfig
    from drawkit.sources.posthog import PostHogDataSource
    from drawkit.synth import generate

    draw_date = date(2026, 11, 24)
    data = generate(subscribers=400, days=2, end_date=draw_date, seed=13)
    preload(server, data.recharges, data.persons, None)
    clean_client = client_for(server)
    clean = PostHogDataSource(clean_client, PromotionConfig(), page_size=100, monitor=False)
    expected = clean.get_eligible_participants(draw_date)
    clean_client.close()
    server.faults.update(**{**FAULTS, "error_rate": 0.3, "rate_limit_rate": 0.15})
    runs, failed, retries = 6, 0, 0
    for _ in range(runs):
        client = client_for(server)
        source = PostHogDataSource(client, PromotionConfig(), page_size=100, monitor=False)
        try:
            got = source.get_eligible_participants(draw_date)
        except PostHogError:
            failed += 1  # a clear error; the operator runs it again
            continue
        finally:
            retries += int(client.metrics_frame()["retries"].sum())
            client.close()
        pd.testing.assert_frame_equal(
            got.participants.reset_index(drop=True), expected.participants.reset_index(drop=True)
        )
        assert got.summary.to_dict() == expected.summary.to_dict()
    assert failed < runs
    time.sleep(SLOW_SECONDS + 0.3)
    faulted = sum(1 for e in api_entries(server) if e["fault"] is not None)
    assert faulted
    reliability.add(
        "faults: PostHog cohort",
        "eligible participants of a draw date by HogQL in pages of 100 "
        f"({len(expected.participants)} participants), {runs} runs under 30% 503, 15% 429, "
        f"2% dropped, 1% too slow ({faulted} faults hit, {retries} retries)",
        runs,
        f"{runs - failed} runs gave participants (msisdn, points, entries) and row accounting "
        f"identical to a fault-free run; {failed} ended in a clear PostHog* error",
    )
