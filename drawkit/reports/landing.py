"""The landing page of one draw date (``index.html``): what an operator forwards and an
auditor signs.

:func:`render_landing` is a pure function from a :class:`LandingPage` (frozen dataclasses,
filled by the application layer) to one self-contained HTML document: inline CSS, no
script, no network, every value escaped. The verdict is the first heading; then the key
figures, the timeline (UTC and the promotion's local time), the winners in draw order with
replacements and claims, the commitments, every check, links to the reports and files, the
exact command that re-checks the draw, and a sign-off block. The stylesheet follows the
nbconvert "lab" look of the other reports, fits an 800 px window without horizontal
scrolling and prints every section (tables are never cut in the middle of a row).

Only masked numbers reach the page: a :class:`WinnerLine` or :class:`Replacement` with an
unmasked number is refused when it is built.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from drawkit.draw import DrawRecord
from drawkit.msisdn import mask
from drawkit.store import write_public

STYLESHEET = Path(__file__).with_name("templates") / "landing.css"
LOCAL_TIMEZONE = "Africa/Lagos"
NOT_YET = "not yet"

# Plain-words explanations of the terms on the page, one line each (also for the reports).
TERMS: dict[str, str] = {
    "draw id": "The draw's unique name: promotion and draw date. Re-running it returns the "
    "same record, never a second draw.",
    "cohort digest": "SHA-256 fingerprint of the frozen participant list (every number and "
    "its entries). Anyone holding the list can recompute it; one changed entry changes it.",
    "beacon round": "The drand round whose public random value seeds the draw. It is chosen "
    "and committed before that value exists, so nobody can know the winners in advance.",
    "secret commitment": "SHA-256 of the operator's optional secret, published before the "
    "draw; the secret is revealed in the record, and verify checks it matches.",
    "result key": "The Ed25519 public key that signs every published result event, fixed in "
    "the commitment before the draw: an event it does not sign is a forgery.",
    "ledger head": "Hash of the last entry in the draw ledger, an append-only file where "
    "each entry carries the hash of the one before: changing any past entry breaks the chain.",
    "record hash": "SHA-256 of the full draw record (with full numbers). The public record, "
    "with masked numbers, carries it so a verifier holding the participants can prove it.",
    "masked number": "Phone numbers show only their first four and last three digits "
    "(0803****567); the full numbers stay in the owner-only private folder.",
    "draw order": "The order in which the draw picked people: winners of each tier first, "
    "then reserves, who replace a winner who cannot be reached or is disqualified.",
    "reserve": "A person drawn after the winners, in order, who takes a prize only if a "
    "winner of the same tier drops out. Nothing is ever redrawn.",
    "entries": "Every ₦100 recharged in the entry window is one point, and one point is "
    "one entry: one ticket in the draw.",
    "first DRBG words": "The first numbers the draw's random generator (HMAC_DRBG, a "
    "standard cryptographic generator) produced from the seed, so a lab can check an "
    "independent implementation gives the same stream.",
}


# ------------------------------------------------------------------ the page's data


class CheckLike(Protocol):
    """What a check needs to show (``drawkit.audit.Check`` has it)."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class CheckLine:
    """One check an auditor signs off: its name, the result, what it found in plain words."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    """PASS (every check passed), FAIL (naming the failed checks) or, with ``passed``
    None, not checked yet. ``notes`` are shown prominently under it, e.g. "local test
    chain — not public randomness" or "operator-chosen randomness"."""

    passed: bool | None
    checks: tuple[CheckLine, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.passed and any(not c.passed for c in self.checks):
            raise ValueError("a verdict cannot PASS with a failed check")
        if self.passed is False and self.checks and all(c.passed for c in self.checks):
            raise ValueError("a FAIL verdict needs a failed check to name")

    @classmethod
    def from_checks(cls, checks: Iterable[CheckLike], notes: Sequence[str] = ()) -> Verdict:
        """PASS when every check passed, FAIL when one failed, not checked when there is
        none; ``drawkit.audit.Check`` objects work."""
        lines = tuple(CheckLine(c.name, bool(c.passed), c.detail) for c in checks)
        passed = all(c.passed for c in lines) if lines else None
        return cls(passed, lines, tuple(notes))

    @property
    def failed(self) -> tuple[CheckLine, ...]:
        """The checks that failed, in order."""
        return tuple(c for c in self.checks if not c.passed)


@dataclass(frozen=True)
class KeyFigures:
    """The draw's headline numbers. Row counts are None when the source gave none."""

    draw_id: str
    draw_date: date | str
    promotion: str
    permit: str | None
    participants: int
    total_entries: int
    rows_read: int | None = None
    rows_counted: int | None = None
    rows_excluded: int | None = None
    rows_rejected: int | None = None
    window_start: datetime | str | None = None  # None: since the promotion began
    window_cutoff: datetime | str | None = None

    def __post_init__(self) -> None:
        for name in ("window_start", "window_cutoff"):
            object.__setattr__(self, name, instant(getattr(self, name), name))


@dataclass(frozen=True)
class Timeline:
    """When each step happened (aware datetimes or ISO 8601 strings with an offset);
    None shows as "not yet"."""

    committed_at: datetime | str | None = None
    beacon_published_at: datetime | str | None = None
    drawn_at: datetime | str | None = None
    published_at: datetime | str | None = None
    beacon_round: int | None = None
    timezone: str = LOCAL_TIMEZONE

    def __post_init__(self) -> None:
        for name in ("committed_at", "beacon_published_at", "drawn_at", "published_at"):
            object.__setattr__(self, name, instant(getattr(self, name), name))
        ZoneInfo(self.timezone)  # an unknown zone fails here, not while rendering


@dataclass(frozen=True)
class WinnerLine:
    """One pick in draw order (1-based). ``number`` must be masked (``0803****567``);
    ``status`` says in words what happened since ("unreachable — replaced by reserve 1",
    "promoted: holds Grand prize 1", "prize claimed"); empty when nothing did."""

    draw_order: int
    number: str
    tier: str
    prize_ngn: int
    role: str  # "winner" or "reserve"
    position: int  # 1-based within the tier and role
    status: str = ""

    def __post_init__(self) -> None:
        _require_masked(self.number, f"winner #{self.draw_order}")


@dataclass(frozen=True)
class Replacement:
    """A winner who dropped out (unreachable or disqualified) and the reserve promoted in
    their place; ``replaced_by`` None means no reserve was left (the prize is unfilled)."""

    tier: str
    prize_position: int
    dropped: str  # masked number
    reason: str  # "unreachable" or "disqualified", with the operator's words if any
    replaced_by: str | None = None  # masked number of the promoted reserve
    reserve_position: int | None = None
    recorded_at: datetime | str | None = None

    def __post_init__(self) -> None:
        _require_masked(self.dropped, f"{self.tier} {self.prize_position} (dropped)")
        if self.replaced_by is not None:
            _require_masked(self.replaced_by, f"{self.tier} {self.prize_position} (reserve)")
        object.__setattr__(self, "recorded_at", instant(self.recorded_at, "recorded_at"))


@dataclass(frozen=True)
class Commitments:
    """What was fixed before the randomness existed, and where the ledger stands."""

    cohort_digest: str
    beacon_round: int | None
    secret_commitment: str | None
    ledger_head: str
    record_hash: str | None = None
    beacon_source: str | None = None  # e.g. "drand quicknet" or "local test chain"
    result_public_key: str | None = None  # Ed25519, hex: the key that signs the results


@dataclass(frozen=True)
class Link:
    """A file next to the landing page: ``href`` is relative to it (no scheme, no host)."""

    label: str
    href: str
    note: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.href)
        if parts.scheme or parts.netloc or self.href.startswith("/") or not self.href.strip():
            raise ValueError(f"link {self.label!r} must be a relative path, got {self.href!r}")


@dataclass(frozen=True)
class Links:
    """Everything the page links: the reports, the public files, the charts."""

    reports: tuple[Link, ...] = ()
    public_record: Link | None = None  # record.public.json
    audit: Link | None = None  # audit.json
    spec: Link | None = None  # the copy of docs/draw-spec.md
    verifier: Link | None = None  # verifier/index.html, when present
    charts: tuple[Link, ...] = ()

    def files(self) -> tuple[Link, ...]:
        """The public files, in the order shown."""
        named = (self.public_record, self.audit, self.spec, self.verifier)
        return tuple(link for link in named if link is not None)

    def all(self) -> tuple[Link, ...]:
        """Every link on the page."""
        return (*self.reports, *self.files(), *self.charts)


@dataclass(frozen=True)
class LandingPage:
    """Everything the landing page shows. ``verify_command`` is the exact command line
    that re-checks the draw from the public files (shown as is, escaped)."""

    verdict: Verdict
    figures: KeyFigures
    timeline: Timeline
    winners: tuple[WinnerLine, ...]
    commitments: Commitments
    links: Links
    verify_command: str
    replacements: tuple[Replacement, ...] = ()
    generated_at: datetime | str | None = None
    drawkit_version: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "generated_at", instant(self.generated_at, "generated_at"))


# Section ids and headings, in page order (the browser test checks each one prints).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("figures", "Key figures"),
    ("timeline", "Timeline"),
    ("winners", "Winners"),
    ("replacements", "Replacements and claims"),
    ("commitments", "Commitments"),
    ("checks", "Checks"),
    ("files", "Reports and files"),
    ("recheck", "Re-check it yourself"),
    ("signoff", "Sign-off"),
)


# ------------------------------------------------------------------ helpers for the lead


def instant(value: datetime | str | None, what: str = "time") -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string with an offset; a naive
    time is refused (it would be read in whatever zone the reader assumes)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{what} {value!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} has no UTC offset")
    return value


def shown_number(msisdn: str) -> str:
    """A number as the page shows it: masked (an already masked one stays as it is)."""
    return msisdn if "*" in msisdn else mask(msisdn)


def winners_from_record(
    record: DrawRecord, events: Sequence[dict[str, Any]] = ()
) -> tuple[tuple[WinnerLine, ...], tuple[Replacement, ...]]:
    """Winner lines and replacements from a draw record (private or public) and its ledger
    events (``Ledger.events(draw_id)``): drop-outs, promoted reserves, unfilled prizes,
    claims, each said in words on the person's line."""
    values = {p.name: p.value_ngn for p in record.prizes}
    picks = {(w.tier, w.role, w.position): w for w in record.winners}
    status: dict[tuple[str, str, int], list[str]] = {key: [] for key in picks}
    holder = {(w.tier, w.position): key for key, w in picks.items() if w.role == "winner"}
    why: dict[tuple[str, str, int], str] = {}  # drop-out reason per person
    replacements: list[Replacement] = []
    for event in events:
        kind, d = event.get("event"), event.get("details", {})
        if kind in ("unreachable", "disqualified", "claimed"):
            key = (d["tier"], d.get("role", "winner"), int(d["position"]))
            words = kind + (f": {d['reason']}" if d.get("reason") else "")
            status.setdefault(key, []).append("prize claimed" if kind == "claimed" else words)
            if kind != "claimed":
                why[key] = words
        elif kind in ("promoted", "unfilled"):
            prize = (d["tier"], int(d["prize_position"]))
            previous = holder.get(prize)
            if previous is None or previous not in picks:
                continue  # an event this record does not explain: verify reports it
            reserve = (d["tier"], "reserve", int(d.get("reserve_position") or 0))
            promoted = kind == "promoted" and reserve in picks
            status[previous].append(
                f"replaced by reserve {reserve[2]}" if promoted else "no reserve left: unfilled"
            )
            if promoted:
                status[reserve].append(f"promoted: holds {prize[0]} {prize[1]}")
                holder[prize] = reserve
            replacements.append(
                Replacement(
                    tier=prize[0],
                    prize_position=prize[1],
                    dropped=shown_number(picks[previous].msisdn),
                    reason=why.get(previous, "dropped out"),
                    replaced_by=shown_number(picks[reserve].msisdn) if promoted else None,
                    reserve_position=reserve[2] if promoted else None,
                    recorded_at=event.get("recorded_at"),
                )
            )
    lines = tuple(
        WinnerLine(
            draw_order=w.draw_order,
            number=shown_number(w.msisdn),
            tier=w.tier,
            prize_ngn=values[w.tier],
            role=w.role,
            position=w.position,
            status="; ".join(status[(w.tier, w.role, w.position)]),
        )
        for w in sorted(record.winners, key=lambda w: w.draw_order)
    )
    return lines, tuple(replacements)


# ------------------------------------------------------------------ rendering


def render_landing(page: LandingPage) -> str:
    """The landing page as one self-contained HTML document (inline CSS, no script)."""
    f = page.figures
    title = f"{_verdict_word(page.verdict)} — {f.promotion}, draw {f.draw_date}"
    body = "\n".join(
        [
            _verdict_block(page.verdict, f),
            _section("figures", _figures_table(f, page.timeline.timezone)),
            _section("timeline", _timeline_table(page.timeline)),
            _section("winners", _winners_table(page.winners)),
            _section("replacements", _replacements_block(page.replacements, page.timeline)),
            _section("commitments", _commitments_table(page.commitments)),
            _section("checks", _checks_table(page.verdict)),
            _section("files", _links_block(page.links)),
            _section("recheck", _recheck_block(page.verify_command)),
            _section("signoff", _signoff_block(f)),
            _footer(page),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>\n{stylesheet()}</style>\n</head>\n"
        f'<body>\n<main class="landing">\n{body}\n</main>\n</body>\n</html>\n'
    )


def write_landing(page: LandingPage, path: str | Path) -> Path:
    """Render ``page`` to ``path`` (UTF-8, written atomically); returns the path."""
    return write_public(path, render_landing(page))


def stylesheet() -> str:
    """The page's CSS (templates/landing.css)."""
    return STYLESHEET.read_text(encoding="utf-8")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _verdict_word(verdict: Verdict) -> str:
    if verdict.passed is None:
        return "NOT CHECKED"
    return "PASS" if verdict.passed else "FAIL"


def _verdict_block(verdict: Verdict, f: KeyFigures) -> str:
    word = _verdict_word(verdict)
    kind = {"PASS": "pass", "FAIL": "fail"}.get(word, "pending")
    failed = verdict.failed
    if verdict.passed:
        summary = f"All {len(verdict.checks)} checks passed." if verdict.checks else ""
    elif verdict.passed is False and failed:
        summary = f"{len(failed)} of {len(verdict.checks)} checks failed:"
    elif verdict.passed is False:
        summary = "The audit did not complete: no check result is available."
    else:
        summary = "The audit has not run for this draw yet: nothing here is signed off."
    items = "".join(f"<li><strong>{_e(c.name)}</strong>: {_e(c.detail)}</li>" for c in failed)
    notes = "".join(
        f'<p class="note" role="note"><span class="label">Note:</span> {_e(n)}</p>'
        for n in verdict.notes
    )
    return (
        f'<header class="verdict {kind}" id="verdict">\n'
        f'<h1><span class="word">{_e(word)}</span> '
        f'<span class="what">{_e(f.promotion)} · draw date {_e(f.draw_date)}</span></h1>\n'
        f'<p class="draw-id">Draw <code>{_e(f.draw_id)}</code></p>\n'
        + (f'<p class="summary">{_e(summary)}</p>\n' if summary else "")
        + (f'<ul class="failed">{items}</ul>\n' if items else "")
        + notes
        + "\n</header>"
    )


def _section(section_id: str, content: str) -> str:
    heading = dict(SECTIONS)[section_id]
    return f'<section id="{section_id}">\n<h2>{_e(heading)}</h2>\n{content}\n</section>'


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """A table; cells are already-escaped HTML."""
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    css_class = f' class="{css}"' if css else ""
    return f"<table{css_class}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(rows: Iterable[tuple[str, str]], css: str = "pairs") -> str:
    """A two-column table of label (escaped here) and value (already HTML)."""
    body = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<table class="{css}"><tbody>{body}</tbody></table>'


def _figures_table(f: KeyFigures, timezone: str) -> str:
    if f.window_cutoff is not None:
        start = "promotion start" if f.window_start is None else _when(f.window_start, timezone)
        window = (
            f'<span class="to">from</span> {start}<br>'
            f'<span class="to">to</span> {_when(f.window_cutoff, timezone)}'
        )
    else:
        window = "—"
    rows = [
        ("Participants (eligible people)", _count(f.participants)),
        ("Total entries (tickets)", _count(f.total_entries)),
        ("Recharge rows read", _count(f.rows_read)),
        ("… counted", _count(f.rows_counted)),
        ("… excluded by a rule", _count(f.rows_excluded)),
        ("… rejected as invalid", _count(f.rows_rejected)),
        ("Entry window", window),
        ("Draw id", f"<code>{_e(f.draw_id)}</code>"),
        ("Draw date", _e(f.draw_date)),
        ("Promotion", _e(f.promotion)),
        ("Permit", _e(f.permit) if f.permit else "none recorded"),
    ]
    return _pairs(rows) + _explain("entries", "draw id")


def _when(moment: datetime | None, timezone: str) -> str:
    """A time in UTC and in the promotion's zone, or "not yet"."""
    if moment is None:
        return f'<span class="missing">{NOT_YET}</span>'
    utc = moment.astimezone(UTC)
    local = moment.astimezone(ZoneInfo(timezone))
    zone = local.tzname() or timezone
    same_day = local.date() == utc.date()
    local_text = local.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")
    return (
        f'<span class="utc">{utc:%Y-%m-%d %H:%M:%S} UTC</span> '
        f'<span class="local">({_e(local_text)} {_e(zone)})</span>'
    )


def _timeline_table(t: Timeline) -> str:
    round_text = (
        f"Beacon round {t.beacon_round:,} published"
        if t.beacon_round
        else ("Beacon round published")
    )
    steps = [
        ("Committed (cohort, round, secret hash fixed)", t.committed_at),
        (round_text, t.beacon_published_at),
        ("Drawn", t.drawn_at),
        ("Result published", t.published_at),
    ]
    zone = ZoneInfo(t.timezone)
    local_name = datetime(2026, 1, 1, tzinfo=zone).tzname() or t.timezone
    rows = [
        (
            _e(step),
            _when_part(moment, UTC, "UTC"),
            _when_part(moment, zone, local_name),
        )
        for step, moment in steps
    ]
    return _table(["step", "UTC", f"{local_name} ({t.timezone})"], rows, "timeline")


def _when_part(moment: datetime | None, zone: Any, name: str) -> str:
    if moment is None:
        return f'<span class="missing">{NOT_YET}</span>'
    return _e(f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S} {name}")


def _winners_table(winners: Sequence[WinnerLine]) -> str:
    if not winners:
        return '<p class="empty">No winners were drawn.</p>'
    rows = [
        (
            f"{w.draw_order:,}",
            f'<span class="number">{_e(w.number)}</span>',
            _e(w.tier),
            f"₦{w.prize_ngn:,}",
            _e(f"{w.role} {w.position}"),
            _e(w.status) if w.status else '<span class="muted">as drawn</span>',
        )
        for w in sorted(winners, key=lambda w: w.draw_order)
    ]
    headers = ["#", "number (masked)", "prize", "value", "role", "since the draw"]
    return _table(headers, rows, "winners") + _explain("draw order", "reserve", "masked number")


def _replacements_block(replacements: Sequence[Replacement], t: Timeline) -> str:
    if not replacements:
        return '<p class="empty">None: every prize is held by the winner drawn for it.</p>'
    rows = [
        (
            _e(f"{r.tier} {r.prize_position}"),
            f'<span class="number">{_e(r.dropped)}</span>' if r.dropped else "—",
            _e(r.reason),
            (
                f'<span class="number">{_e(r.replaced_by)}</span> (reserve {r.reserve_position})'
                if r.replaced_by
                else "<strong>no reserve left: prize unfilled</strong>"
            ),
            _when(r.recorded_at, t.timezone) if r.recorded_at else "—",
        )
        for r in replacements
    ]
    headers = ["prize", "dropped out", "why", "replaced by", "recorded at"]
    return _table(headers, rows, "replacements")


def _hash(value: str | None, missing: str = "none") -> str:
    return (
        f'<code class="hash">{_e(value)}</code>'
        if value
        else f'<span class="muted">{missing}</span>'
    )


def _commitments_table(c: Commitments) -> str:
    beacon = f"{c.beacon_round:,}" if c.beacon_round is not None else "none (no public beacon)"
    if c.beacon_source:
        beacon += f" — {c.beacon_source}"
    rows = [
        ("Cohort digest", _hash(c.cohort_digest), "cohort digest"),
        ("Beacon round", _e(beacon), "beacon round"),
        (
            "Secret commitment",
            _hash(c.secret_commitment, "no operator secret"),
            "secret commitment",
        ),
        ("Record hash", _hash(c.record_hash, "not drawn yet"), "record hash"),
        ("Result signing key", _hash(c.result_public_key, "none: results unsigned"),
         "result key"),
        ("Ledger head", _hash(c.ledger_head), "ledger head"),
    ]
    body = "".join(
        f'<tr><th scope="row">{_e(label)}</th><td>{value}'
        f'<div class="term">{_e(TERMS[term])}</div></td></tr>'
        for label, value, term in rows
    )
    return f'<table class="pairs commitments"><tbody>{body}</tbody></table>'


def _checks_table(verdict: Verdict) -> str:
    if not verdict.checks:
        return '<p class="empty">No checks have run yet.</p>'
    rows = [
        (
            _e(c.name),
            f'<span class="result {"pass" if c.passed else "fail"}">'
            f"{'PASS' if c.passed else 'FAIL'}</span>",
            _e(c.detail),
        )
        for c in verdict.checks
    ]
    return _table(["check", "result", "what it found"], rows, "checks")


def _link_item(link: Link) -> str:
    note = f' <span class="muted">— {_e(link.note)}</span>' if link.note else ""
    href = quote(link.href, safe="/#?=&.-_~")
    return f'<li><a href="{_e(href)}">{_e(link.label)}</a> <code>{_e(link.href)}</code>{note}</li>'


def _links_block(links: Links) -> str:
    parts = []
    for heading, group in (
        ("Reports", links.reports),
        ("Public files", links.files()),
        ("Charts (PNG)", links.charts),
    ):
        if group:
            items = "".join(_link_item(link) for link in group)
            parts.append(f'<h3>{_e(heading)}</h3><ul class="links">{items}</ul>')
    return "".join(parts) or '<p class="empty">No files yet.</p>'


def _recheck_block(command: str) -> str:
    return (
        "<p>Anyone holding the participants file can re-derive this draw offline and "
        "compare it with the public record. The command prints <code>MATCH</code>, or "
        "every field that differs, and exits non-zero on a difference:</p>"
        f'<pre class="command"><code>{_e(command)}</code></pre>'
        '<p class="muted">The algorithm is specified in the draw spec linked above, exactly '
        "enough to re-implement it in another language.</p>"
    )


def _signoff_block(f: KeyFigures) -> str:
    rows = [("Checked by (name)", ""), ("Role / organisation", ""), ("Date", ""), ("Signature", "")]
    body = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td class="blank">{v}</td></tr>' for k, v in rows
    )
    return (
        f"<p>I have checked draw <code>{_e(f.draw_id)}</code> as described on this page.</p>"
        f'<table class="pairs signoff"><tbody>{body}</tbody></table>'
    )


def _explain(*terms: str) -> str:
    items = "".join(f"<dt>{_e(t)}</dt><dd>{_e(TERMS[t])}</dd>" for t in terms)
    return f'<dl class="terms">{items}</dl>'


def _footer(page: LandingPage) -> str:
    parts = ["Made by drawkit"]
    if page.drawkit_version:
        parts.append(f"version {page.drawkit_version}")
    if page.generated_at is not None:
        parts.append(f"at {page.generated_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    return f'<footer class="muted">{_e(" ".join(parts))}.</footer>'


def _require_masked(number: str, what: str) -> None:
    """Refuse a full phone number: the landing page is public."""
    if "*" not in number or re.search(r"\d{7,}", number):
        raise ValueError(f"{what}: the number must be masked (drawkit.msisdn.mask)")


__all__ = [
    "TERMS",
    "SECTIONS",
    "CheckLine",
    "Commitments",
    "KeyFigures",
    "LandingPage",
    "Link",
    "Links",
    "Replacement",
    "Timeline",
    "Verdict",
    "WinnerLine",
    "instant",
    "render_landing",
    "shown_number",
    "winners_from_record",
    "write_landing",
]
