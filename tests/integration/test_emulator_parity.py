"""Pre-loading the emulator leaves exactly what a real upload through capture leaves."""

from __future__ import annotations

from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.posthog import PostHogClient
from drawkit.posthog.upload import upload_synth


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


def test_load_synth_matches_upload_synth(emulator, synth_data):
    summary = upload_synth(PostHogClient.from_env(emulator.env()), synth_data)
    with EmulatorServer() as preloaded:
        loaded = preloaded.load_synth(synth_data)
        assert loaded["rows_skipped"] == summary.rows_skipped
        assert _snapshot(preloaded) == _snapshot(emulator)
