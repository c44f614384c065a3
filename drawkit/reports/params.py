"""The parameters the three report notebooks share, validated once.

Every notebook has the same ``parameters`` cell, so one set of values drives the whole
report. None of them is a secret: PostHog credentials and the operator secret come from
the environment the kernel inherits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from drawkit.config import PromotionConfig, load_promotion
from drawkit.draw import default_draw_id
from drawkit.errors import ConfigError, ReportError
from drawkit.redact import register_secrets

SOURCES = ("local", "posthog")
STRATEGIES = ("hogql", "cohort")
SECRET_ENV = "DRAWKIT_DRAW_SECRET"  # noqa: S105 - the variable's name, not a secret

PARAMETER_NAMES = (
    "draw_date",
    "source",
    "strategy",
    "recharges",
    "blacklist",
    "config",
    "ledger_dir",
    "output_dir",
    "beacon",
    "beacon_round",
    "simulations",
    "history_days",
)
"""The names in every notebook's ``parameters`` cell; the runner refuses any other."""

PATH_PARAMETERS = ("recharges", "blacklist", "config", "ledger_dir", "output_dir")


@dataclass(frozen=True)
class ReportParams:
    """Validated notebook parameters (paths absolute, dates parsed)."""

    draw_date: date
    source: str
    strategy: str
    recharges: Path | None
    blacklist: Path | None
    config_path: Path | None
    ledger_dir: Path
    output_dir: Path
    beacon: bytes | None
    beacon_round: int | None
    simulations: int
    history_days: int

    @classmethod
    def from_values(cls, **values: Any) -> ReportParams:
        """Check the raw parameter values (as a notebook holds them) and build the params."""
        unknown = sorted(set(values) - set(PARAMETER_NAMES))
        if unknown:
            raise ReportError(f"unknown report parameter(s): {', '.join(unknown)}")
        source = str(values.get("source") or "local")
        if source not in SOURCES:
            raise ConfigError(f"parameter 'source' must be one of {SOURCES}, got {source!r}")
        strategy = str(values.get("strategy") or "hogql")
        if strategy not in STRATEGIES:
            raise ConfigError(f"parameter 'strategy' must be one of {STRATEGIES}")
        recharges = _path(values.get("recharges"))
        if source == "local" and recharges is None:
            raise ConfigError("parameter 'recharges' is required with source 'local'")
        return cls(
            draw_date=_date(values.get("draw_date")),
            source=source,
            strategy=strategy,
            recharges=recharges,
            blacklist=_path(values.get("blacklist")),
            config_path=_path(values.get("config")),
            ledger_dir=_path(values.get("ledger_dir")) or project_root() / "ledger",
            output_dir=_path(values.get("output_dir"))
            or project_root() / "reports" / _date(values.get("draw_date")).isoformat(),
            beacon=_hex(values.get("beacon")),
            beacon_round=int(values["beacon_round"]) if values.get("beacon_round") else None,
            simulations=_positive("simulations", values.get("simulations", 500)),
            history_days=max(int(values.get("history_days") or 0), 0),
        )

    @property
    def config(self) -> PromotionConfig:
        """The promotion config (the embedded default when no path was given)."""
        return load_promotion(self.config_path)

    @property
    def draw_id(self) -> str:
        """The draw's id: ``<promotion slug>-<date>``."""
        return default_draw_id(self.config, self.draw_date)

    @property
    def private_dir(self) -> Path:
        """Files with full phone numbers (owner-only): cohort, rejected rows, winners."""
        path = self.output_dir / "private"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        return path

    @property
    def charts_dir(self) -> Path:
        """Where every chart is also saved as a PNG."""
        path = self.output_dir / "charts"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def results_dir(self) -> Path:
        """Where the local source records published results (next to the ledger)."""
        return self.ledger_dir / "published"


def project_root() -> Path:
    """Where default report and ledger folders go: the working directory, or its parent
    when a notebook runs from ``notebooks/`` (so outputs land in the git-ignored
    ``reports/`` and ``ledger/``, never next to the committed notebooks)."""
    cwd = Path.cwd().resolve()
    return cwd.parent if cwd.name == "notebooks" else cwd


def operator_secret(variable: str = SECRET_ENV) -> bytes | None:
    """The operator secret from the environment (hex), or None when unset."""
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    register_secrets([value])
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise ConfigError(f"{variable} must hold the operator secret as hex") from exc


def _path(value: object) -> Path | None:
    text = str(value or "").strip()
    return Path(text).expanduser().resolve() if text else None


def _date(value: object) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ConfigError(f"parameter 'draw_date' must be YYYY-MM-DD, got {value!r}") from exc


def _hex(value: object) -> bytes | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ConfigError("parameter 'beacon' must be the beacon value in hex") from exc


def _positive(name: str, value: object) -> int:
    number = int(value)  # type: ignore[call-overload]
    if number < 1:
        raise ConfigError(f"parameter '{name}' must be at least 1, got {number}")
    return number
