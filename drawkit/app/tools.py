"""Use-cases around the draws: synthetic data, the PostHog set-up check, the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drawkit.app.runtime import Runtime
    from drawkit.draw import ChainReport


@dataclass(frozen=True)
class SynthOutput:
    """What synthetic data was written: counts and files."""

    recharges: int
    subscribers: int
    blacklisted: int
    files: dict[str, Path]

    def format(self) -> str:
        """A line of counts, then one line per file (streamed data: files only)."""
        if self.recharges < 0:
            lines = [f"recharges of {self.subscribers:,} subscribers, written chunk by chunk"]
        else:
            lines = [f"{self.recharges:,} recharges of {self.subscribers:,} subscribers "
                     f"({self.blacklisted:,} blacklisted)"]
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def synthesize(
    subscribers: int,
    days: int,
    end_date: date,
    out_dir: Path,
    *,
    seed: int = 1,
    fmt: str = "csv",
    config_path: Path | None = None,
    chunk_subscribers: int | None = None,
) -> SynthOutput:
    """Deterministic synthetic recharges and a blacklist, written to ``out_dir``; with
    ``chunk_subscribers``, generated and written chunk by chunk (larger than memory)."""
    from drawkit.config import load_promotion
    from drawkit.synth import generate, write_synth, write_synth_stream

    config = load_promotion(config_path)
    if chunk_subscribers is not None:
        files = write_synth_stream(subscribers, days, end_date, out_dir, seed, fmt=fmt,
                                   config=config, chunk_subscribers=chunk_subscribers)
        return SynthOutput(-1, subscribers, -1, files)
    data = generate(subscribers, days, end_date, seed, config=config)
    files = write_synth(data, out_dir, fmt=fmt)
    return SynthOutput(len(data.recharges), len(data.persons),
                       int(data.persons["blacklisted"].sum()), files)


def load_synthetic(
    runtime: Runtime,
    subscribers: int,
    days: int,
    end_date: date,
    seed: int,
    *,
    config_path: Path | None = None,
    say: Any = None,
    not_sent_out: Path | None = None,
) -> Any:
    """Generate synthetic recharges and load them into the runtime's PostHog project
    through capture; returns the upload summary. The rows it could not send go to
    ``not_sent_out`` (a private CSV: ``SourceSpec.not_sent`` accounts for them)."""
    from drawkit.config import load_promotion
    from drawkit.posthog.upload import upload_synth, wait_until_queryable
    from drawkit.synth import generate

    config = load_promotion(config_path)
    data = generate(subscribers, days, end_date, seed, config=config)
    tell = say or (lambda _text: None)
    tell(f"Synthetic data: {len(data.recharges):,} recharge rows, {len(data.persons):,} people")
    tell("Uploading through capture (PostHog's /batch/ endpoint)…")
    summary = upload_synth(runtime.posthog(), data, config)
    if not_sent_out is not None:
        keep_not_sent([summary], not_sent_out)
    waited = wait_until_queryable(runtime.posthog(), summary, config)
    tell(f"  every event queryable after {waited:.0f} s of ingestion lag")
    return summary


def keep_not_sent(summaries: list[Any], path: Path) -> int:
    """Write the rows the uploads could not send (each summary's ``not_sent``) to
    ``path``, a private CSV for ``SourceSpec.not_sent``; returns how many there are."""
    import pandas as pd

    from drawkit.posthog.upload import UploadSummary, write_not_sent

    frames = [s.not_sent for s in summaries] or [UploadSummary(0, 0, 0).not_sent]
    rows = pd.concat(frames, ignore_index=True)
    write_not_sent(rows, path)
    return len(rows)


@dataclass(frozen=True)
class DoctorReport:
    """The PostHog set-up checklist."""

    checks: list[Any]

    @property
    def ok(self) -> bool:
        """No check failed (skipped ones do not count)."""
        return not any(c.ok is False for c in self.checks)

    def format(self) -> str:
        """The checklist for people."""
        from drawkit.posthog.doctor import format_checklist

        return format_checklist(self.checks)


def posthog_calls(job: Any, runtime: Runtime) -> Any:
    """The run's PostHog call metrics (a DataFrame), or None when PostHog is not the source."""
    return runtime.posthog().metrics_frame() if job.source.kind == "posthog" else None


def doctor(runtime: Runtime) -> DoctorReport:
    """Check the POSTHOG_* settings, the key, the project, the scopes and capture."""
    from drawkit.posthog.doctor import run_checks

    return DoctorReport(run_checks(runtime.env))


def ledger_chain(ledger_dir: Path, heads: tuple[str, ...] = ()) -> ChainReport:
    """Check the ledger's hash chain, anchored by published ledger heads (record hashes
    it must still hold): a deleted tail or a rewritten day fails."""
    from drawkit.draw import Ledger

    return Ledger(ledger_dir).verify_chain(heads)


def ledger_lines(ledger_dir: Path) -> list[str]:
    """One line per ledger entry: sequence, kind, draw id, event, hash prefix."""
    from drawkit.draw import Ledger

    return [
        f"{e.get('sequence'):>6} {e.get('kind'):<10} {e.get('draw_id')} "
        f"{e.get('event', '')} {str(e.get('record_hash'))[:16]}"
        for e in Ledger(ledger_dir).entries()
    ]


class _DirectCapture:
    """A capture client that hands events straight to an emulator's ingestion."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def capture_batch(self, events: Any, chunk_size: int = 1000) -> int:
        return self.server.ingest(events)


def preload(server: Any, recharges: Any, persons: Any, config: Any) -> Any:
    """Load recharges (and persons) into a PostHog emulator as drawkit's upload sends them,
    through the emulator's own ingestion (no HTTP: fast, for tests and benchmarks)."""
    from drawkit.posthog.upload import upload_recharges

    return upload_recharges(_DirectCapture(server), recharges, persons, config)  # type: ignore[arg-type]
