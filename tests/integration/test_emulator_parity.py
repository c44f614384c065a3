"""Pre-loading through ``server.ingest`` leaves exactly what a real upload over HTTP capture
leaves: the same ingestion path, the same events and persons."""

from __future__ import annotations

from drawkit.app.tools import preload
from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.posthog import PostHogClient
from drawkit.posthog.upload import upload_synth


def _snapshot(server: EmulatorServer) -> tuple[list, dict]:
    events = server.store.events.sort_values("uuid", ignore_index=True)
    rows = [  # "$set" events carry the server's time: compare everything else
        (r.uuid, r.event, r.distinct_id, None if r.event == "$set" else r.timestamp,
         r.properties)
        for r in events.itertuples()
    ]  # fmt: skip
    persons = {p.distinct_id: p.properties for p in server.store.persons_by_id.values()}
    return rows, persons


def test_preload_matches_an_upload_through_capture(emulator, synth_data):
    summary = upload_synth(PostHogClient.from_env(emulator.env()), synth_data)
    with EmulatorServer() as preloaded:
        loaded = preload(preloaded, synth_data.recharges, synth_data.persons, None)
        assert loaded.rows_skipped == summary.rows_skipped
        assert loaded.events_sent == summary.events_sent
        assert _snapshot(preloaded) == _snapshot(emulator)


def test_ingest_file_reads_json_lines_and_batches(tmp_path):
    import json

    events = [{"event": "e", "distinct_id": f"d{i}", "uuid": f"00000000-0000-4000-8000-{i:012d}"}
              for i in range(3)]  # fmt: skip
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"api_key": "phc_x", "batch": events}))
    with EmulatorServer() as server:
        assert server.ingest_file(lines) == 3
        assert server.ingest_file(batch) == 3
        assert server.store.event_count() == 3  # the second load: duplicates dropped (ideal)
        assert server.store.duplicates_dropped == 3
