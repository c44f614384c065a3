"""Commit, draw, publish and record what happens after a draw: the draw's use-cases.

Every door (CLI, notebooks, demo) goes through these functions, so the rules that protect
the draw hold whichever door is used: the cohort comes from the frozen cohort only, the
operator secret comes from the runtime (and its strength is checked by the draw engine),
a beacon value is exact hex of the right length, a re-run of a drawn id with other inputs
is refused, results are signed with the key the commitment names, concurrent publishes
take turns on the ledger's publish lock, and outputs are written by the one
private/public writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drawkit.app.cohort import FrozenCohort, cohort_for_draw
from drawkit.contract import LedgerHead
from drawkit.draw import (
    BeaconChain,
    BeaconEvidence,
    Commitment,
    DrawRecord,
    Ledger,
    Standing,
    commit_draw,
    published_events,
    record_event,
    run_draw,
    standing,
    write_winners_export,
)
from drawkit.draw import publish as publish_record
from drawkit.draw.engine import check_secret_reveal
from drawkit.draw.verify import protocol_findings
from drawkit.errors import (
    BeaconNotYetPublishedError,
    CommitmentError,
    DrawError,
    InputError,
    LedgerError,
)
from drawkit.msisdn import mask
from drawkit.sources.base import PublishReport
from drawkit.store import write_private, write_public

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime
    from drawkit.beacon.chain import ChainInfo
    from drawkit.beacon.client import WaitProgress

RECORD_FILE = "record.json"
WINNERS_FILE = "winners.csv"
PUBLIC_RECORD_FILE = "record.public.json"
BEACON_BYTES = 32  # a drand round's randomness is a SHA-256 digest


@dataclass(frozen=True)
class CommitResult:
    """The commitment, the frozen cohort it fixes, and whether it was made just now."""

    commitment: Commitment
    cohort: FrozenCohort
    new: bool


@dataclass(frozen=True)
class DrawResult:
    """The draw's record, whether this run drew it (False: the ledger's record was
    returned, nothing was re-drawn), and the files written."""

    record: DrawRecord
    drawn: bool
    files: dict[str, Path] = field(default_factory=dict)
    findings: tuple[Any, ...] = ()  # the randomness protocol's checks of the record
    events: list[dict[str, Any]] = field(default_factory=list)  # drop-outs, claims since


def parse_beacon(text: str | None) -> bytes | None:
    """A beacon value given as hex: None when absent; empty, malformed or of the wrong
    length is an InputError naming it."""
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned:
        raise InputError("the beacon value is empty: give the round's randomness in hex")
    try:
        value = bytes.fromhex(cleaned)
    except ValueError:
        raise InputError("the beacon value must be hexadecimal (the round's randomness)") from None
    if len(value) != BEACON_BYTES:
        raise InputError(
            f"the beacon value has {len(value)} bytes: a drand round's randomness has "
            f"{BEACON_BYTES} (64 hex digits)"
        )
    return value


def commit(job: DrawJob, runtime: Runtime) -> CommitResult:
    """Commit to the frozen cohort, a future beacon round (the job's, or the first one past
    the promotion's margin) and the secret's hash. Idempotent: the same commitment again
    returns the existing one. A draw on the operator secret alone needs the explicit
    ``operator_randomness`` opt-in (scratch explorations use it)."""
    signer = runtime.result_signer(job)  # a missing or malformed key is named first
    cohort = cohort_for_draw(job, runtime)
    before = committed(job)
    secret = secret_for(job, runtime)
    operator = job.operator_randomness or job.scratch
    if before is not None and job.beacon_round in (None, before.beacon_round):
        round_number, chain_hash = before.beacon_round, before.beacon_chain
        operator = before.operator_randomness
    elif operator:
        if job.beacon_round is not None:
            raise InputError("a beacon round and operator-chosen randomness exclude each other")
        if secret is None:
            raise InputError(
                f"operator-chosen randomness needs an operator secret in {runtime.secret_variable}"
            )
        round_number, chain_hash = None, None
    else:
        round_number = choose_round(job, runtime)
        check_round_ahead(job, runtime, round_number)
        chain_hash = runtime.beacon_chain().hash
    commitment = commit_draw(
        cohort.participants,
        job.config,
        job.draw_date,
        ledger_dir=job.ledger,
        beacon_round=round_number,
        secret=secret,
        draw_id=job.id,
        beacon_chain=chain_hash,
        operator_randomness=operator,
        commit_margin_seconds=job.config.beacon_margin_seconds,
        result_public_key=signer.public_key,
        now=runtime.now(),
        canonical=cohort.canonical,
    )
    runtime.track(job, "draw_committed", {"draw_id": commitment.draw_id})
    return CommitResult(commitment, cohort, new=before is None)


def committed(job: DrawJob) -> Commitment | None:
    """The job's commitment in the ledger, or None."""
    return Ledger(job.ledger).commitment(job.id)


def commitment_for_draw(job: DrawJob, runtime: Runtime) -> Commitment:
    """The commitment the draw will honour. A real job must have committed already (as
    its own step, before the randomness exists); a scratch exploration commits now."""
    existing = committed(job)
    if existing is not None:
        return existing
    if job.scratch:
        return commit(job, runtime).commitment
    raise DrawError(
        f"draw {job.id} is not committed: commit first (drawkit commit, or drawkit report, "
        "which commits as its own step before the draw)"
    )


def draw(
    job: DrawJob,
    runtime: Runtime,
    *,
    record_out: Path | None = None,
    public_out: Path | None = None,
    winners_export: Path | None = None,
    wait: bool = False,
    say: Callable[[str], None] | None = None,
) -> DrawResult:
    """Run the draw on the frozen cohort (or return the ledger's record: never re-drawn,
    and only when the inputs given agree with it) and write the private record, the
    winners file and the masked public record. The committed round must be published;
    with ``wait`` the draw waits for it (bounded by the promotion's
    ``beacon.wait_seconds``)."""
    secret = secret_for(job, runtime)  # malformed inputs are named before anything else
    parse_beacon(job.beacon_value)
    cohort = cohort_for_draw(job, runtime)
    record = Ledger(job.ledger).get(job.id)
    drawn = record is None
    if record is None:
        commitment = commitment_for_draw(job, runtime)
        check_secret_reveal(commitment, secret)  # before any waiting
        if wait:
            await_round(job, runtime, say)
        evidence = None
        if commitment.beacon_round is not None:
            evidence = authenticated_round(job, runtime, commitment)
        elif job.beacon_signature is not None or job.beacon_value is not None:
            raise CommitmentError(
                f"draw {job.id} committed to no beacon round, so no beacon is used: a value "
                "chosen after the commitment could be picked to suit an outcome"
            )
        elif not commitment.operator_randomness:
            raise CommitmentError(f"draw {job.id} committed to no beacon round")
        steps: list[str] = []
        record = run_draw(
            cohort.participants,
            job.config,
            job.draw_date,
            ledger_dir=job.ledger,
            secret=secret,
            draw_id=job.id,
            exclusions=cohort.exclusions,
            on_step=steps.append,
            evidence=evidence,
            now=runtime.now(),
            canonical=cohort.canonical,
        )
        drawn = "existing" not in steps  # another process may have drawn it meanwhile
    if not drawn:
        check_rerun(job, runtime, record, cohort)
    files = write_draw_files(job, record)
    extra = {"private record": record_out, "public record": public_out,
             "winners export": winners_export}
    files.update(write_extra_files(record, extra))
    if drawn:
        runtime.track(job, "draw_completed",
                      {"draw_id": record.draw_id, "record_hash": record.record_hash})
    findings = protocol_findings(record, accept_test_chain=job.accept_test_chain,
                                 accept_operator_randomness=job.scratch)
    return DrawResult(record, drawn, files, findings, Ledger(job.ledger).events(job.id))


def check_rerun(job: DrawJob, runtime: Runtime, record: DrawRecord, cohort: FrozenCohort) -> None:
    """A draw id that already ran is shown again only when every input given agrees with
    its record: the frozen cohort (and a participants file given), the operator secret,
    the beacon round, signature and value. Otherwise a CommitmentError names each one
    that differs (never the secret itself)."""
    differences = []
    digest = _drawn_digest(cohort, record)
    if digest != record.cohort_digest:
        differences.append(f"cohort digest {digest} (the record's {record.cohort_digest})")
    given = _participants_file_digest(job)
    if given is not None and given != cohort.digest:
        differences.append(
            f"participants file {job.source.participants} (digest {given}) is not the frozen "
            f"cohort (digest {cohort.digest})"
        )
    secret = runtime.secret  # a scratch run's throwaway secret is never compared
    if secret is not None and record.secret is None:
        differences.append(f"an operator secret (in {runtime.secret_variable}) was given, but "
                           "the draw used none")
    elif secret is not None and secret.hex() != record.secret:
        differences.append(f"the operator secret in {runtime.secret_variable} is not the one "
                           "the draw revealed")
    if job.beacon_round is not None and job.beacon_round != record.beacon_round:
        differences.append(f"beacon round {job.beacon_round} (the record's "
                           f"{record.beacon_round or 'none'})")
    signature = (job.beacon_signature or "").strip().lower()
    if signature and signature != record.beacon_signature:
        differences.append(f"the beacon signature given is not the one of the record's round "
                           f"{record.beacon_round or 'none'}")
    value = parse_beacon(job.beacon_value)
    if value is not None and value.hex() != record.beacon_value:
        differences.append(f"beacon value {value.hex()} (the record's "
                           f"{record.beacon_value or 'none'})")
    if differences:
        raise CommitmentError(
            f"draw {record.draw_id} already ran (ledger entry {record.sequence}, record hash "
            f"{record.record_hash[:16]}…) with other inputs: " + "; ".join(differences)
            + ". A draw never runs twice: give the inputs it ran with to see its record, or "
            "draw a new id"
        )


def _drawn_digest(cohort: FrozenCohort, record: DrawRecord) -> str:
    """The digest the frozen cohort gives once the record's recent winners are removed."""
    if not record.excluded_msisdns:
        return cohort.digest
    from drawkit.draw.engine import prepare_cohort

    return prepare_cohort(cohort.participants, set(record.excluded_msisdns)).cohort.digest


def _participants_file_digest(job: DrawJob) -> str | None:
    """The digest of the participants file the job names (None when it names none)."""
    path = job.source.participants
    if job.source.kind != "local" or path is None:
        return None
    from drawkit.draw import canonical_cohort
    from drawkit.sources.local import read_participants

    participants = read_participants(path)
    return canonical_cohort(participants).digest if len(participants) else ""


# ------------------------------------------------------------------ the randomness protocol


def secret_for(job: DrawJob, runtime: Runtime) -> bytes | None:
    """The operator secret: the runtime's, or a throwaway one for a scratch exploration."""
    if runtime.secret is None and job.scratch:
        return runtime.scratch_secret()
    return runtime.secret


def choose_round(job: DrawJob, runtime: Runtime) -> int:
    """The round to commit to: the job's, or the first one published at least the
    promotion's margin after now."""
    chain = runtime.beacon_chain()
    if job.beacon_round is not None:
        return job.beacon_round
    return chain.round_after(runtime.now() + timedelta(seconds=job.config.beacon_margin_seconds))


def check_round_ahead(job: DrawJob, runtime: Runtime, round_number: int) -> None:
    """Commit refuses a round published sooner than the margin after now (its value could
    be known, or be known before the commitment is public) and one far in the future."""
    chain = runtime.beacon_chain()
    now = runtime.now()
    published = chain.round_time(round_number)
    margin = timedelta(seconds=job.config.beacon_margin_seconds)
    ahead = timedelta(hours=job.config.beacon_max_ahead_hours)
    if published < now + margin:
        soonest = chain.round_after(now + margin)
        raise CommitmentError(
            f"beacon round {round_number} is published at {published:%Y-%m-%d %H:%M:%S} UTC, "
            f"less than {margin.total_seconds():g} s after now: its value may already be known. "
            f"Commit to round {soonest} or later (drawkit beacon round)"
        )
    if published > now + ahead:
        raise CommitmentError(
            f"beacon round {round_number} is published at {published:%Y-%m-%d %H:%M} UTC, more "
            f"than {job.config.beacon_max_ahead_hours} hours ahead: check the round number"
        )


def authenticated_round(job: DrawJob, runtime: Runtime, commitment: Commitment) -> BeaconEvidence:
    """The committed round's genuine output: fetched from the relays, or the signature an
    air-gapped operator gives, authenticated either way. Refused before the round is
    published, from another chain, or when it is not the round's genuine output."""
    from drawkit.beacon.verify import verify_round

    round_number = commitment.beacon_round
    assert round_number is not None  # the caller checked
    chain = runtime.beacon_chain()
    if commitment.beacon_chain not in (None, chain.hash):
        raise CommitmentError(
            f"draw {commitment.draw_id} committed to a round of chain {commitment.beacon_chain}, "
            f"but this run reads chain {chain.hash}: set DRAWKIT_DRAND_CHAIN_HASH to the "
            "committed chain"
        )
    published = chain.round_time(round_number)
    now = runtime.now()
    if now < published:
        raise BeaconNotYetPublishedError(
            f"beacon round {round_number} is published at {published:%Y-%m-%d %H:%M:%S} UTC, in "
            f"{(published - now).total_seconds():.0f} s: the draw runs once it exists"
        )
    if job.beacon_signature is not None:
        beacon = verify_round(chain, round_number, job.beacon_signature)
        relay = "given offline by the operator (--beacon-signature)"
    else:
        client = runtime.drand()
        beacon = client.round(round_number)
        relay = client.last_relay
    cross_check = parse_beacon(job.beacon_value)
    if cross_check is not None and cross_check != beacon.randomness:
        raise CommitmentError(
            f"the beacon value given is not round {round_number}'s randomness "
            f"({beacon.randomness.hex()}): it is refused"
        )
    return BeaconEvidence(round_number, beacon.signature, beacon.randomness,
                          chain_record(chain), relay)


def chain_record(chain: ChainInfo) -> BeaconChain:
    """The chain as the record keeps it."""
    return BeaconChain(chain.hash, chain.public_key.hex(), chain.period, chain.genesis_time,
                       chain.group_hash, chain.scheme, chain.beacon_id)


def await_round(job: DrawJob, runtime: Runtime, say: Callable[[str], None] | None = None) -> None:
    """Wait (at most the promotion's ``beacon.wait_seconds``) until the committed round is
    published and fetchable, saying so about every few seconds."""
    commitment = committed(job)
    if commitment is None or commitment.beacon_round is None or job.beacon_signature:
        return
    if Ledger(job.ledger).get(job.id) is not None:
        return  # already drawn: nothing to wait for
    tell = say or (lambda _text: None)
    shown: list[float] = []

    def progress(state: WaitProgress) -> None:
        if not shown or state.waited - shown[-1] >= 5 or state.state != "waiting":
            shown.append(state.waited)
            left = max(state.seconds_to_due, 0.0)
            tell(f"    waiting for beacon round {state.round}: published in {left:.0f} s "
                 f"({state.state})")

    runtime.drand().wait_for_round(commitment.beacon_round, job.config.beacon_wait_seconds,
                                   progress)


def write_draw_files(job: DrawJob, record: DrawRecord) -> dict[str, Path]:
    """The draw's files in the workspace: private record and winners (0600), public record."""
    return {
        "private record": write_private(job.private_dir / RECORD_FILE, record.to_json()),
        "winners export": write_winners_export(record, job.private_dir / WINNERS_FILE),
        "public record": write_public(job.report_dir / PUBLIC_RECORD_FILE,
                                      record.public().to_json()),
    }


def write_extra_files(record: DrawRecord, paths: dict[str, Path | None]) -> dict[str, Path]:
    """Copies the operator asked for elsewhere, through the same writers."""
    written: dict[str, Path] = {}
    if paths.get("private record"):
        written["private record copy"] = write_private(paths["private record"], record.to_json())
    if paths.get("public record"):
        written["public record copy"] = write_public(paths["public record"],
                                                     record.public().to_json())
    if paths.get("winners export"):
        written["winners export copy"] = write_winners_export(record, paths["winners export"])
    return written


def ledger_record(job: DrawJob) -> DrawRecord:
    """The job's draw record from the ledger; a LedgerError when it has not run."""
    return draw_record(job.ledger, job.id)


def draw_record(ledger_dir: Path, draw_id: str) -> DrawRecord:
    """The record of ``draw_id`` in the ledger at ``ledger_dir``; LedgerError if absent."""
    record = Ledger(ledger_dir).get(draw_id)
    if record is None:
        raise LedgerError(f"no draw {draw_id!r} in ledger {ledger_dir}: run the draw first")
    return record


def publish(job: DrawJob, runtime: Runtime) -> PublishReport:
    """Send the draw's result, signed, to the job's source (PostHog events or the local
    results store), with the ledger's head; safe to repeat: each event is recorded once.
    Concurrent publishes take turns on the ledger's publish lock (each one reads what the
    source holds only after the one before has sent its events and seen them arrive), so
    each event is sent once. Published events of the draw that are not the real ones are
    named in the report's ``forged``. A receipt (when, how many) goes next to the reports
    for the landing page."""
    record = ledger_record(job)
    signer = runtime.result_signer(job)
    ledger = Ledger(job.ledger)
    with ledger.publish_lock():
        events = published_events(record, ledger.events(record.draw_id))
        report = publish_record(record, runtime.source(job), signer, ledger_head=ledger.head(),
                                events=events)
    _write_receipt(job, runtime, report)
    return report


def _write_receipt(job: DrawJob, runtime: Runtime, report: PublishReport) -> None:
    import json

    receipt = {"draw_id": report.draw_id, "sent": report.sent,
               "already_recorded": report.already_recorded, "source": job.source.describe(),
               "at": runtime.now().isoformat(timespec="seconds")}
    path = job.report_dir / "published.json"
    if report.sent or not path.exists():  # a repeat that sent nothing keeps the first time
        write_public(path, json.dumps(receipt, indent=2) + "\n")


@dataclass(frozen=True)
class EventResult:
    """What recording a draw event appended, who holds each prize now, and the ledger head
    the events made (publish it like the others)."""

    appended: list[dict[str, Any]]
    standing: Standing
    lines: list[str]
    head: LedgerHead | None = None


def record_draw_event(
    ledger_dir: Path,
    draw_id: str,
    kind: str,
    *,
    position: int,
    tier: str | None = None,
    role: str = "winner",
    reason: str = "",
) -> EventResult:
    """Record that a winner or reserve was unreachable, disqualified or claimed the prize;
    a drop-out promotes the next reserve of the tier. Lines are masked, for people."""
    ledger = Ledger(ledger_dir)
    appended = record_event(ledger, draw_id, kind, tier=tier, position=position, role=role,
                            reason=reason)
    record = draw_record(ledger_dir, draw_id)
    lines = [_event_line(record, entry) for entry in appended]
    now = standing(record, ledger.events(draw_id))
    for (prize, place), holder in sorted(now.holders.items()):
        lines.append(f"  {prize} #{place}: {mask(holder.msisdn)} ({holder.role})")
    head = ledger.head()
    if head is not None:
        lines.append(f"ledger head now: {head.format()}")
    lines.append(f"not published yet: drawkit publish {draw_id} sends the {len(appended)} "
                 "event(s), signed, with the new head")
    return EventResult(appended, now, lines, head)


def _event_line(record: DrawRecord, entry: dict[str, Any]) -> str:
    d, what = entry["details"], entry["event"]
    if what == "promoted":
        reserve = record.winners_of(d["tier"], "reserve")[d["reserve_position"] - 1]
        return (f"{d['tier']} #{d['prize_position']}: reserve {d['reserve_position']} "
                f"({mask(reserve.msisdn)}) promoted")
    if what == "unfilled":
        return f"{d['tier']} #{d['prize_position']}: no reserve left, prize unfilled"
    return f"recorded: {d['tier']} {d['role']} {d['position']} {what}"
