"""Pre-loading the emulator leaves exactly what a real upload through capture leaves, on
the cloud profile (ingestion lag, typing, persons on events), and the source reads the
same participants from both."""

from __future__ import annotations

from datetime import date

from drawkit.app.tools import preload
from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.posthog import PostHogClient, RetryPolicy
from drawkit.posthog.upload import upload_synth, wait_until_queryable
from drawkit.sources.posthog import PostHogDataSource

EMULATOR_PROFILE = "cloud"  # tests/integration/conftest.py: PostHog Cloud's behaviours

SYNTH_END_DATE = date(2026, 11, 20)  # the end of the conftest's synth_data
CLOUD = {"profile": "cloud", "ingestion_lag_seconds": 1.5}


def _snapshot(server: EmulatorServer) -> tuple[list, dict]:
    events = server.store.events.sort_values("uuid", ignore_index=True)
    rows = [  # "$set" events carry the server's time: compare everything else
        (
            r.uuid,
            r.event,
            r.distinct_id,
            None if r.event == "$set" else r.timestamp,
            {k: v for k, v in r.properties.items() if k != "$set"},
        )
        for r in events.itertuples()
    ]
    persons = {p.distinct_id: p.properties for p in server.store.persons.values()}
    return rows, persons


def test_preload_matches_upload_synth_over_http(emulator, synth_data):
    client = PostHogClient.from_env(emulator.env(), policy=RetryPolicy(timeout=(2, 30)))
    summary = upload_synth(client, synth_data)
    assert wait_until_queryable(client, summary, poll_seconds=0.2, timeout=30) > 0
    with EmulatorServer(**CLOUD) as preloaded:
        loaded = preload(preloaded, synth_data.recharges, synth_data.persons, None)
        preloaded.ingest_pending()
        assert loaded.rows_skipped == summary.rows_skipped
        assert loaded.not_sent.equals(summary.not_sent)
        assert _snapshot(preloaded) == _snapshot(emulator)
        other = PostHogClient.from_env(preloaded.env(), policy=RetryPolicy(timeout=(2, 30)))
        here = PostHogDataSource(client, monitor=False).get_eligible_participants(SYNTH_END_DATE)
        there = PostHogDataSource(other, monitor=False).get_eligible_participants(SYNTH_END_DATE)
        assert here.participants.equals(there.participants) and len(here.participants) > 20
        assert here.summary.to_dict() == there.summary.to_dict()


def test_ingest_file_reads_json_lines_and_batches(tmp_path):
    import json

    events = [{"event": "e", "distinct_id": f"d{i}", "uuid": f"00000000-0000-4000-8000-{i:012d}"}
              for i in range(3)]  # fmt: skip
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"api_key": "phc_x", "batch": events}))
    with EmulatorServer(profile="ideal") as server:  # the ideal model: duplicates dropped at once
        assert server.ingest_file(lines) == 3
        assert server.ingest_file(batch) == 3
        assert server.store.event_count() == 3
        assert server.store.duplicates_dropped == 3
