"""PostHogDataSource against the emulator: local rules, cohort path and HogQL path agree."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from drawkit.config import PromotionConfig
from drawkit.contract import DrawOutcome, PublishedWinner, completed_uuid, winner_uuid
from drawkit.eligibility import BLACKLISTED, UNDER_ONE_POINT, apply_rules
from drawkit.msisdn import normalize
from drawkit.offline.posthog_emulator.server import EmulatorServer
from drawkit.posthog import PostHogClient, RetryPolicy, build_event
from drawkit.posthog.upload import UploadSummary, upload_synth, wait_until_queryable
from drawkit.sources.base import DrawDataSource
from drawkit.sources.local import LocalDataSource, read_blacklist, read_recharges
from drawkit.sources.posthog import PostHogDataSource
from drawkit.synth import SynthData, generate, write_synth

EMULATOR_PROFILE = "cloud"  # tests/integration/conftest.py: PostHog Cloud's behaviours

FAST = RetryPolicy(max_attempts=3, max_seconds=10, backoff_initial=0.01, timeout=(2, 30))
END = date(2026, 11, 27)
CONFIGS = {
    "daily": PromotionConfig(),
    "summed_capped": replace(PromotionConfig(), points_mode="summed", entry_cap=7),
    "cumulative": replace(PromotionConfig(), window="cumulative", start_date=date(2026, 11, 25)),
}


class Loaded(NamedTuple):
    server: EmulatorServer
    client: PostHogClient
    data: SynthData
    upload: UploadSummary
    files: dict[str, Path]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """An emulator holding 3 days of synthetic recharges, uploaded through capture; the
    same data written as files (``data.files``) for the LocalDataSource."""
    data = generate(subscribers=400, days=3, end_date=END, seed=7)
    files = write_synth(data, tmp_path_factory.mktemp("synth"))
    with EmulatorServer(profile="cloud", ingestion_lag_seconds=1.5,
                        cohort_calculation_seconds=0.05) as server:
        client = PostHogClient.from_env(server.env(), policy=FAST)
        summary = upload_synth(client, data)
        assert wait_until_queryable(client, summary, poll_seconds=0.2, timeout=30) >= 1.0
        yield Loaded(server, client, data, summary, files)


def _local(loaded: Loaded, config, day):
    """The local way: LocalDataSource on the synth files."""
    files = loaded.files
    source = LocalDataSource(files["recharges"], files["blacklist"], config)
    return source.get_eligible_participants(day)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("day", [date(2026, 11, 26), END])
def test_local_cohort_and_hogql_paths_agree(loaded, name, day):
    _, client, data, _, _ = loaded
    config = CONFIGS[name]
    local = _local(loaded, config, day)
    hogql = PostHogDataSource(client, config, "hogql").get_eligible_participants(day)
    cohort = PostHogDataSource(client, config, "cohort").get_eligible_participants(day)
    assert len(local.participants) > 50
    pd.testing.assert_frame_equal(hogql.participants, local.participants)
    pd.testing.assert_frame_equal(cohort.participants, local.participants)
    for result in (hogql, cohort):
        s = result.summary
        assert s.accounted
        assert (s.participants, s.total_points, s.total_entries) == (
            local.summary.participants, local.summary.total_points, local.summary.total_entries
        )
        assert (s.participants_excluded[UNDER_ONE_POINT]
                == local.summary.participants_excluded[UNDER_ONE_POINT])
    assert (hogql.summary.participants_excluded[BLACKLISTED]
            == local.summary.participants_excluded[BLACKLISTED] > 0)


def test_hogql_summary_accounts_for_every_recharge_event(loaded):
    server, client, data, upload, _ = loaded
    result = PostHogDataSource(client, CONFIGS["daily"]).get_eligible_participants(END)
    s = result.summary
    stored = server.store.events
    recharges = int((stored["event"] == "recharge").sum())
    assert s.rows_in == recharges
    assert s.rows_counted + sum(s.rows_excluded.values()) + sum(s.rows_rejected.values()) == (
        recharges
    )
    assert s.rows_excluded["outside_window"] > 0 and s.rows_excluded["blacklisted"] > 0
    assert sum(s.rows_rejected.values()) == upload.bad_amounts_sent > 0
    assert sum(upload.rows_skipped.values()) > 0  # bad numbers/timestamps never sent...
    assert upload.rows_in == len(data.recharges)  # ...but counted by the upload


def test_result_does_not_depend_on_a_points_person_property(loaded):
    server, client, data, _, _ = loaded
    assert not any("points" in p.properties for p in server.store.persons.values())
    before = PostHogDataSource(client).get_eligible_participants(END).participants
    victim = before["msisdn"].iloc[0]
    client.capture_event("$set", victim, set_properties={"points": 99999})
    after = PostHogDataSource(client).get_eligible_participants(END).participants
    pd.testing.assert_frame_equal(before, after)


def test_hogql_pages_by_msisdn_with_few_requests(loaded):
    server, client, data, _, _ = loaded
    expected = _local(loaded, CONFIGS["daily"], END).participants
    client.reset_metrics()
    source = PostHogDataSource(client, page_size=40, monitor=False)
    result = source.get_eligible_participants(END)
    pd.testing.assert_frame_equal(result.participants, expected)
    # A points row packs the subscribers whose numbers differ only in the last 3 digits:
    # every subscriber with valid rows in the window (blacklisted and under 1 point too).
    files = loaded.files  # the in-memory rules list excluded rows (the streaming path counts)
    local = apply_rules(read_recharges(files["recharges"]), CONFIGS["daily"], END,
                        read_blacklist(files["blacklist"]))
    counted = pd.concat([local.excluded.loc[local.excluded["rule"].isin(
        ["blacklisted", "under_1_point"]), "msisdn"], pd.Series(expected["msisdn"])])
    buckets = {str(normalize(m))[:-3] for m in counted}
    pages = len(buckets) // 40 + 1  # the last page is short (or empty)
    queries = client.metrics_frame().set_index("endpoint").loc["POST /query/", "requests"]
    assert queries == pages + 3  # + odd values, accounting, rejected rows
    assert client.queries_charged() == queries
    assert "POST /batch/" not in client.metrics_frame()["endpoint"].tolist()


def test_participant_entries(loaded):
    _, client, data, _, _ = loaded
    config = CONFIGS["summed_capped"]
    expected = _local(loaded, config, END).participants
    source = PostHogDataSource(client, config)
    for row in expected.head(3).itertuples():
        assert source.get_participant_entries(row.msisdn, END) == row.entries
    national = "0" + expected["msisdn"].iloc[0][4:]
    assert source.get_participant_entries(national, END) == expected["entries"].iloc[0]
    banned = data.persons.loc[data.persons["blacklisted"], "msisdn"].iloc[0]
    assert source.get_participant_entries(banned, END) == 0
    assert source.get_participant_entries("+2348099999998", END) == 0


def _outcome(participants: pd.DataFrame, draw_id: str) -> DrawOutcome:
    winners = tuple(
        PublishedWinner(msisdn=row.msisdn, tier="Airtime bundle" if i else "Grand prize",
                        prize_value_ngn=5000 if i else 100_000,
                        role="reserve" if i == 3 else "winner",
                        position=1 if i in (0, 3) else i, draw_order=i + 1,
                        entries=int(row.entries), ticket=1000 + i)
        for i, row in enumerate(participants.head(4).itertuples())
    )
    return DrawOutcome(draw_id=draw_id, draw_date=END, promotion="demo", cohort_digest="ab" * 32,
                       participants=len(participants),
                       total_entries=int(participants["entries"].sum()),
                       record_hash="cd" * 32, winners=winners)


def test_publish_twice_records_one_set_of_events(loaded, tmp_path, result_signer):
    server, client, data, _, _ = loaded
    source = PostHogDataSource(client)
    assert isinstance(source, DrawDataSource)
    participants = source.get_eligible_participants(END).participants
    outcome = _outcome(participants, "draw-2026-11-27-a")
    first = source.record_draw_result(outcome, result_signer)
    second = source.record_draw_result(outcome, result_signer)
    assert (first.sent, first.already_recorded) == (5, 0)
    assert (second.sent, second.already_recorded) == (0, 5)
    # publish waited out the ingestion lag, bounded, and said so
    assert first.visible is True and first.waited_seconds >= 1.0
    assert second.visible is True and second.waited_seconds == 0
    server.ingest_pending()  # the monitoring events, which nobody waits for
    events = server.store.events
    mine = events[events["properties"].map(lambda p: p.get("draw_id") == outcome.draw_id)
                  & events["event"].isin(["draw_completed", "draw_winner"])]
    assert len(mine) == 5
    tracked = events[events["event"] == "drawkit_results_published"]
    assert tracked["properties"].map(lambda p: p["sent"]).tolist()[-2:] == [5, 0]
    expected = {completed_uuid(outcome.draw_id, key=result_signer)} | {
        winner_uuid(outcome.draw_id, w.tier, w.role, w.position, key=result_signer)
        for w in outcome.winners
    }
    assert set(mine["uuid"]) == expected
    winners = mine[mine["event"] == "draw_winner"]
    assert sorted(winners["distinct_id"]) == sorted(w.msisdn for w in outcome.winners)
    for w in outcome.winners:  # the full number is the distinct_id, never a property
        assert w.msisdn not in json.dumps(winners["properties"].tolist())
        assert w.msisdn[1:] not in json.dumps(winners["properties"].tolist())

    published = source.get_published_results(outcome.draw_id)
    assert list(published["event"]) == ["draw_completed"] + ["draw_winner"] * 4
    assert list(published["uuid"]) == [completed_uuid(outcome.draw_id, key=result_signer)] + [
        winner_uuid(outcome.draw_id, w.tier, w.role, w.position, key=result_signer)
        for w in outcome.winners
    ]
    assert list(published["msisdn"][1:]) == [w.msisdn for w in outcome.winners]
    assert list(published["ticket"][1:]) == [w.ticket for w in outcome.winners]
    assert published["msisdn"].iloc[0] == ""
    local = LocalDataSource(loaded.files["recharges"], results_dir=tmp_path)
    local.record_draw_result(outcome, result_signer)
    pd.testing.assert_frame_equal(published, local.get_published_results(outcome.draw_id))
    assert source.get_published_results("no-such-draw").empty


def test_monitoring_events_are_captured_and_never_break_the_caller(loaded):
    server, client, _, _, _ = loaded
    source = PostHogDataSource(client)
    assert source.track("draw_committed", {"draw_id": "x", "note": "for 08031234567"})
    server.ingest_pending()
    events = server.store.events
    tracked = events[events["event"] == "drawkit_draw_committed"]
    assert len(tracked) == 1
    props = tracked["properties"].iloc[0]
    assert props["draw_id"] == "x" and "08031234567" not in props["note"]
    broken = PostHogClient(server.url, server.api_key, server.project_id,
                           "phc_wrong_project_key_123", policy=FAST)
    assert PostHogDataSource(broken).track("draw_committed", {}) is False


def test_cohort_path_pages_through_cohort_persons(loaded):
    _, client, data, _, _ = loaded
    expected = _local(loaded, CONFIGS["daily"], END).participants
    client.reset_metrics()
    source = PostHogDataSource(client, strategy="cohort", page_size=100, monitor=False)
    result = source.get_eligible_participants(END)
    pd.testing.assert_frame_equal(result.participants, expected)
    frame = client.metrics_frame().set_index("endpoint")
    assert frame.loc["GET /cohorts/{id}/persons/", "requests"] >= 1
    assert frame.loc["POST /query/", "requests"] >= 2


def test_events_captured_by_the_client_count_like_uploaded_ones():
    with EmulatorServer() as server:
        client = PostHogClient.from_env(server.env(), policy=FAST)
        stamp = "2026-11-26T12:00:00+01:00"
        client.capture_batch([
            build_event("recharge", "+2348031234567",
                        {"amount_ngn": 250, "transaction_id": "T1"}, timestamp=stamp),
            build_event("recharge", "+2348031234567",
                        {"amount_ngn": 250, "transaction_id": "T1"}, timestamp=stamp),
        ])
        result = PostHogDataSource(client).get_eligible_participants(END)
        assert result.participants.to_dict("records") == [
            {"msisdn": "+2348031234567", "points": 2, "entries": 2}
        ]
        assert result.summary.rows_excluded["duplicate_transaction"] == 1


def test_emulator_loader_data_gives_the_local_participants(
    emulator_with_synth, synth_data, tmp_path
):
    day = date(2026, 11, 20)  # the end date of the conftest's synth_data
    files = write_synth(synth_data, tmp_path)
    local = LocalDataSource(files["recharges"], files["blacklist"])
    source = PostHogDataSource(PostHogClient.from_env(policy=FAST))
    expected = local.get_eligible_participants(day).participants
    pd.testing.assert_frame_equal(source.get_eligible_participants(day).participants, expected)


def test_rows_the_upload_could_not_send_are_accounted_for_as_the_local_path_does(
    loaded, tmp_path
):
    """The upload keeps its unsendable rows in a private file; given it, the PostHog path
    reads every row of the export and rejects the same rows for the same reasons."""
    from drawkit.posthog.upload import read_not_sent, write_not_sent

    _, client, _, upload, _ = loaded
    path = write_not_sent(upload.not_sent, tmp_path / "private" / "not-sent.csv")
    assert path.stat().st_mode & 0o777 == 0o600
    not_sent = read_not_sent(path)
    assert len(not_sent) == sum(upload.rows_skipped.values()) > 0
    local = _local(loaded, CONFIGS["daily"], END)
    for strategy in ("hogql", "cohort"):
        source = PostHogDataSource(client, CONFIGS["daily"], strategy, not_sent=not_sent)
        result = source.get_eligible_participants(END)
        s = result.summary
        assert s.accounted
        if strategy == "hogql":
            assert s.rows_in == local.summary.rows_in
            assert s.rows_rejected == local.summary.rows_rejected
        assert set(not_sent["transaction_id"]) <= set(result.rejected["transaction_id"])
    without = PostHogDataSource(client, CONFIGS["daily"]).get_eligible_participants(END)
    assert without.summary.rows_in == local.summary.rows_in - len(not_sent)


def test_a_broken_not_sent_file_is_a_clear_error(tmp_path):
    from drawkit.errors import InputError
    from drawkit.posthog.upload import read_not_sent

    (tmp_path / "other.csv").write_text("msisdn,entries\n+2348031234567,3\n")
    with pytest.raises(InputError, match="lacks column.*transaction_id"):
        read_not_sent(tmp_path / "other.csv")
    with pytest.raises(InputError, match="no such file"):
        read_not_sent(tmp_path / "missing.csv")
