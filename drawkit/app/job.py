"""What to draw: one typed job description, the same for every door.

A :class:`DrawJob` names the draw date, the promotion config, where participants come from
(:class:`SourceSpec`), the workspace that holds the ledger and every output, and the
draw's options. It round-trips through JSON, so a notebook receives it as one papermill
parameter. It holds no secret: settings and secrets come from the environment, through
:class:`drawkit.app.runtime.Runtime`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from drawkit.config import (
    DEFAULT_WORKSPACE,
    SOURCE_KINDS,
    STRATEGIES,
    WORKSPACE_ENV,
    PromotionConfig,
    check_draw_date,
    draw_id_for,
    load_promotion,
)
from drawkit.errors import ConfigError, InputError


@dataclass(frozen=True)
class SourceSpec:
    """Where a draw's participants come from.

    ``local``: a recharge export (``recharges``, optional ``blacklist``) or a ready
    participants file (``participants``: msisdn, entries). ``posthog``: the project named
    by POSTHOG_* in the environment, read with ``strategy`` (``hogql`` or ``cohort``);
    ``not_sent``: the rows the upload into it could not send (the upload's not-sent CSV),
    counted and listed as rejected so every row of the export is accounted for.
    """

    kind: str = "local"
    strategy: str = "hogql"
    recharges: Path | None = None
    blacklist: Path | None = None
    participants: Path | None = None
    not_sent: Path | None = None

    def check(self, *, participants: bool = True) -> SourceSpec:
        """This spec, or a ConfigError/InputError naming the option that is wrong;
        ``participants=False`` when only results are stored (no files needed)."""
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(f"source must be one of {', '.join(SOURCE_KINDS)}, not {self.kind!r}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}"
            )
        files = {"recharges": self.recharges, "blacklist": self.blacklist,
                 "participants": self.participants}
        if self.kind == "posthog":
            given = [name for name, path in files.items() if path is not None]
            if given:
                raise InputError(f"--{given[0]} is for --source local only")
            if self.not_sent is not None and not self.not_sent.is_file():
                raise InputError(f"--not-sent {self.not_sent}: no such file")
            return self
        if self.not_sent is not None:
            raise InputError("--not-sent is for --source posthog only (the rows an upload "
                             "into PostHog could not send)")
        if not participants and self.recharges is None and self.participants is None:
            return self
        if (self.recharges is None) == (self.participants is None):
            raise InputError(
                "--source local needs --recharges FILE (a recharge export) or "
                "--participants FILE (a participants list), one of the two"
            )
        if self.blacklist is not None and self.recharges is None:
            raise InputError("--blacklist goes with --recharges")
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise InputError(f"--{name} {path}: no such file")
        return self

    def describe(self) -> str:
        """Where the participants come from, in a few words."""
        if self.kind == "posthog":
            return f"PostHog ({self.strategy})"
        if self.participants is not None:
            return f"participants file {self.participants.name}"
        extra = f" and blacklist {self.blacklist.name}" if self.blacklist else ""
        return f"recharge export {self.recharges.name if self.recharges else '?'}{extra}"


@dataclass(frozen=True)
class DrawJob:
    """One draw to run: what, from where, into which workspace, with which options."""

    draw_date: date
    source: SourceSpec = field(default_factory=SourceSpec)
    config_path: Path | None = None
    workspace: Path = Path(DEFAULT_WORKSPACE)
    ledger_dir: Path | None = None  # default: <workspace>/ledger
    draw_id: str | None = None  # default: <promotion slug>-<date>
    beacon_round: int | None = None  # default: the first round after the commit margin
    beacon_signature: str | None = None  # hex, an air-gapped operator's copy of the round
    beacon_value: str | None = None  # hex randomness fetched independently (a cross-check)
    operator_randomness: bool = False  # opt in to a draw on the operator secret alone
    accept_test_chain: bool = False  # an auditor accepts a local test chain (not public)
    simulations: int = 500
    history_days: int = 3
    scratch: bool = False  # exploration in JupyterLab: a scratch workspace, nothing for real
    replace_cohort: bool = False  # re-freeze a cohort that is not yet committed

    def __post_init__(self) -> None:
        check_draw_date(self.draw_date)
        if self.simulations < 1:
            raise ConfigError(f"simulations must be at least 1, got {self.simulations}")
        if self.history_days < 0:
            raise ConfigError(f"history days must not be negative, got {self.history_days}")
        if self.beacon_round is not None and self.beacon_round < 1:
            raise InputError(f"beacon round {self.beacon_round} does not exist: rounds start at 1")

    # ---------------------------------------------------------------- derived

    @cached_property
    def config(self) -> PromotionConfig:
        """The promotion config (the embedded default when no path was given), read once."""
        return load_promotion(self.config_path)

    @property
    def id(self) -> str:
        """The draw id: ``draw_id`` or ``<promotion slug>-<YYYY-MM-DD>``."""
        return self.draw_id or draw_id_for(self.config.name, self.draw_date)

    @property
    def ledger(self) -> Path:
        """The ledger folder."""
        return self.ledger_dir or self.workspace / "ledger"

    @property
    def results_dir(self) -> Path:
        """The one local results store (published results of the local source)."""
        return self.workspace / "results"

    @property
    def private_dir(self) -> Path:
        """Files with full numbers for this draw (owner only): cohort, record, winners."""
        return self.workspace / "private" / self.id

    @property
    def report_dir(self) -> Path:
        """Shareable files for this draw: reports, the public record, the audit summary."""
        return self.workspace / "reports" / self.id

    def absolute(self) -> DrawJob:
        """The same job with every path absolute (a notebook runs in another folder)."""

        def full(path: Path | None) -> Path | None:
            return None if path is None else Path(path).expanduser().resolve()

        source = replace(self.source, recharges=full(self.source.recharges),
                         blacklist=full(self.source.blacklist),
                         participants=full(self.source.participants),
                         not_sent=full(self.source.not_sent))
        return replace(self, source=source, config_path=full(self.config_path),
                       workspace=full(self.workspace), ledger_dir=full(self.ledger_dir))

    def with_date(self, draw_date: date) -> DrawJob:
        """The same job for another draw date (history, previous days)."""
        return replace(self, draw_date=draw_date, draw_id=None, beacon_round=None,
                       beacon_value=None, beacon_signature=None)

    # ---------------------------------------------------------------- JSON

    def to_json(self) -> str:
        """The job as JSON (paths as text, the date as YYYY-MM-DD)."""
        data = asdict(self)
        return json.dumps(_plain(data), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DrawJob:
        """Parse :meth:`to_json`'s output; an error names the field that is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the draw job is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ConfigError("the draw job must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DrawJob:
        """Build from plain values; unknown or mistyped fields are errors naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown draw job field(s): {', '.join(unknown)}")
        if "draw_date" not in data:
            raise ConfigError("the draw job needs a draw_date (YYYY-MM-DD)")
        values = dict(data)
        values["draw_date"] = _date(values["draw_date"])
        values["source"] = _source(values.get("source") or {})
        for name in ("config_path", "ledger_dir"):
            values[name] = _path(values.get(name), name)
        values["workspace"] = _path(values.get("workspace"), "workspace") or Path(
            DEFAULT_WORKSPACE
        )
        for name in ("beacon_round", "simulations", "history_days"):
            if name in values and values[name] is not None:
                values[name] = _int(values[name], name)
        for name in ("draw_id", "beacon_value", "beacon_signature"):
            if values.get(name) is not None and not isinstance(values[name], str):
                raise ConfigError(f"draw job field {name} must be text")
        for name in ("scratch", "replace_cohort", "operator_randomness", "accept_test_chain"):
            if name in values and not isinstance(values[name], bool):
                raise ConfigError(f"draw job field {name} must be true or false")
        return cls(**values)


def default_workspace(env: dict[str, str] | None = None) -> Path:
    """The workspace folder: $DRAWKIT_WORKSPACE, else ./workspace."""
    value = (env if env is not None else os.environ).get(WORKSPACE_ENV, "").strip()
    return Path(value or DEFAULT_WORKSPACE)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"draw_date must be YYYY-MM-DD, got {value!r}") from None


def _path(value: Any, name: str) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | Path):
        raise ConfigError(f"draw job field {name} must be a path")
    return Path(value)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"draw job field {name} must be a whole number, got {value!r}")
    return value


def _source(value: Any) -> SourceSpec:
    if isinstance(value, SourceSpec):
        return value
    if not isinstance(value, dict):
        raise ConfigError("draw job field source must be an object")
    known = {f.name for f in fields(SourceSpec)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"unknown source field(s): {', '.join(unknown)}")
    values = dict(value)
    for name in ("recharges", "blacklist", "participants", "not_sent"):
        values[name] = _path(values.get(name), f"source.{name}")
    for name in ("kind", "strategy"):
        if name in values and not isinstance(values[name], str):
            raise ConfigError(f"source field {name} must be text")
    return SourceSpec(**values)
