"""Settings from the environment and the promotion config (TOML).

Settings carry secrets, so their ``repr`` never shows a key and nothing here logs them.
The promotion config is strict: an unknown key or a wrong type is an error naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drawkit.errors import ConfigError, SettingsError

# Where a draw's participants come from, and how the PostHog source finds them.
SOURCE_KINDS = ("local", "posthog")
STRATEGIES = ("hogql", "cohort")
SECRET_ENV = "DRAWKIT_DRAW_SECRET"  # noqa: S105 - the variable's name, not a secret
SIGNING_KEY_ENV = "DRAWKIT_SIGNING_KEY"  # the Ed25519 key that signs published results
WORKSPACE_ENV = "DRAWKIT_WORKSPACE"
DEFAULT_WORKSPACE = "workspace"
FIRST_DRAW_DATE = date(2000, 1, 1)
LAST_DRAW_DATE = date(2199, 12, 31)


def check_draw_date(value: date) -> date:
    """``value`` if it is a plausible draw date (2000-01-01 to 2199-12-31), else an error."""
    if not FIRST_DRAW_DATE <= value <= LAST_DRAW_DATE:
        raise ConfigError(
            f"draw date {value.isoformat()} is outside {FIRST_DRAW_DATE} to {LAST_DRAW_DATE}: "
            "check the year"
        )
    return value


def draw_id_for(promotion: str, draw_date: date) -> str:
    """``<promotion slug>-<YYYY-MM-DD>``, e.g. ``drawkit-demo-promotion-2026-11-24``."""
    slug = re.sub(r"[^a-z0-9]+", "-", promotion.lower()).strip("-") or "draw"
    return f"{slug[:80]}-{draw_date.isoformat()}"


# --------------------------------------------------------------------------- settings

ENV_API_KEY = "POSTHOG_API_KEY"
ENV_PROJECT_ID = "POSTHOG_PROJECT_ID"
ENV_BASE_URL = "POSTHOG_BASE_URL"
ENV_PROJECT_API_KEY = "POSTHOG_PROJECT_API_KEY"
DEFAULT_BASE_URL = "https://us.posthog.com"


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback IP addresses (where plain HTTP is allowed)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mask_url(url: str) -> str:
    """``url`` with any user:password part replaced by ``***`` (safe to print)."""
    return _USERINFO.sub(r"\1***@", str(url))


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_UNSAFE = re.compile(r"[\\\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Origin:
    """Where a URL really connects: scheme, host (lower case, no brackets) and port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = {"http": 80, "https": 443}[self.scheme]
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def url_origin(url: str, variable: str = ENV_BASE_URL) -> Origin:
    """The origin ``requests`` will connect to for ``url``, refusing anything ambiguous.

    The URL is read by urllib3 (what ``requests`` uses to connect) and by urllib; both
    must agree on the host. Credentials in the URL, backslashes, white space and control
    characters are refused, and the message never repeats what was refused.
    """
    from urllib3.exceptions import LocationParseError  # loaded when a URL is checked
    from urllib3.util import parse_url

    text = str(url).strip()
    if _UNSAFE.search(text):
        raise SettingsError(
            f"{variable} contains a backslash, white space or a control character: write "
            f"a plain URL such as {DEFAULT_BASE_URL}"
        )
    try:
        parts = urlsplit(text)
        connect = parse_url(text)
        port = parts.port
    except (ValueError, LocationParseError):
        raise SettingsError(f"{variable} is not a valid URL (e.g. {DEFAULT_BASE_URL})") from None
    scheme = (parts.scheme or "").lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{variable} must be an http(s) URL such as {DEFAULT_BASE_URL}")
    if "@" in parts.netloc or connect.auth:
        raise SettingsError(
            f"{variable} carries a user name or password ({mask_url(text)}): credentials "
            f"never go in the URL; the personal API key belongs in {ENV_API_KEY}"
        )
    host = (connect.host or "").strip("[]").lower()
    if host != parts.hostname.lower():
        raise SettingsError(f"{variable} names its host ambiguously: write a plain URL")
    default = 443 if scheme == "https" else 80
    return Origin(scheme, host, port or default)


def validate_base_url(url: str, variable: str = ENV_BASE_URL) -> str:
    """Return ``url`` without a trailing slash; refuse plain HTTP to a non-loopback host,
    credentials in the URL, a query or fragment, and URLs whose host is ambiguous."""
    origin = url_origin(url, variable)
    parts = urlsplit(str(url).strip())
    if parts.query or parts.fragment:
        raise SettingsError(f"{variable} must be a base URL without ?query or #fragment")
    if origin.scheme == "http" and not is_loopback_host(origin.host):
        raise SettingsError(
            f"{variable} uses plain http to {origin.host}: HTTPS is required except for "
            "loopback addresses (localhost, 127.0.0.1, ::1)"
        )
    return f"{origin}{parts.path}".rstrip("/")


@dataclass(frozen=True)
class Settings:
    """PostHog settings read from the environment. Secrets are never shown in ``repr``."""

    api_key: str | None = field(default=None, repr=False)
    project_id: str | None = None
    base_url: str = DEFAULT_BASE_URL
    project_api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        require_private: bool = True,
        require_capture: bool = False,
    ) -> Settings:
        """Read and validate POSTHOG_* variables; name the variable that is wrong."""
        env = os.environ if env is None else env
        api_key = (env.get(ENV_API_KEY) or "").strip() or None
        project_id = (env.get(ENV_PROJECT_ID) or "").strip() or None
        project_api_key = (env.get(ENV_PROJECT_API_KEY) or "").strip() or None
        base_url = validate_base_url(env.get(ENV_BASE_URL) or DEFAULT_BASE_URL)
        if require_private:
            if api_key is None:
                raise SettingsError(
                    f"{ENV_API_KEY} is not set: create a personal API key in PostHog "
                    "(Settings > Personal API keys) and export it"
                )
            if project_id is None:
                raise SettingsError(
                    f"{ENV_PROJECT_ID} is not set: export the numeric project id shown in "
                    "your PostHog project settings"
                )
        if api_key is not None and api_key.startswith("phc_"):
            raise SettingsError(
                f"{ENV_API_KEY} holds a project API key (phc_...): it must be a personal "
                f"API key (phx_...); the project key belongs in {ENV_PROJECT_API_KEY}"
            )
        if project_id is not None and not (project_id.isdigit() or project_id == "@current"):
            raise SettingsError(f"{ENV_PROJECT_ID} must be a numeric project id")
        if require_capture and project_api_key is None:
            raise SettingsError(
                f"{ENV_PROJECT_API_KEY} is not set: export the project API key (phc_...) "
                "used to capture events"
            )
        if project_api_key is not None and project_api_key.startswith("phx_"):
            raise SettingsError(
                f"{ENV_PROJECT_API_KEY} holds a personal API key (phx_...): it must be the "
                "project API key (phc_...)"
            )
        return cls(api_key, project_id, base_url, project_api_key)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values, for redaction filters."""
        return tuple(s for s in (self.api_key, self.project_api_key) if s)


# --------------------------------------------------------------------------- promotion

PointsMode = Literal["per_recharge", "summed"]
WindowKind = Literal["daily", "cumulative"]


@dataclass(frozen=True)
class PrizeTier:
    """A prize tier: its name, value in naira and how many are awarded per draw."""

    name: str
    value_ngn: int
    count: int


@dataclass(frozen=True)
class PostHogNames:
    """Event and property names of the data contract in PostHog."""

    recharge_event: str = "recharge"
    amount_property: str = "amount_ngn"
    transaction_property: str = "transaction_id"
    msisdn_property: str = "msisdn"
    channel_property: str = "channel"
    blacklist_property: str = "blacklisted"
    points_property: str = "points"
    cohort_name_prefix: str = "drawkit daily"


@dataclass(frozen=True)
class PromotionConfig:
    """Everything that defines a promotion's draws. Build it with :func:`load_promotion`."""

    name: str = "drawkit demo promotion"
    timezone: str = "Africa/Lagos"
    permit: str | None = None
    naira_per_point: int = 100
    points_mode: PointsMode = "per_recharge"
    window: WindowKind = "daily"
    start_date: date | None = None
    cutoff_time: time = time(0, 0)
    entry_cap: int | None = None
    prizes: tuple[PrizeTier, ...] = (
        PrizeTier("Grand prize", 100_000, 1),
        PrizeTier("Airtime bundle", 5_000, 10),
    )
    reserves_per_tier: int = 3
    exclude_recent_winners_days: int = 0
    award_partial: bool = False
    beacon_margin_seconds: int = 60
    beacon_max_ahead_hours: int = 48
    beacon_wait_seconds: int = 600
    posthog: PostHogNames = PostHogNames()

    @property
    def tz(self) -> ZoneInfo:
        """The promotion's timezone as a ZoneInfo."""
        return ZoneInfo(self.timezone)


# TOML layout: section -> {key: (attribute, type)}. One place declares the schema.
_SCHEMA: dict[str, dict[str, tuple[str, type | tuple[type, ...]]]] = {
    "promotion": {
        "name": ("name", str),
        "timezone": ("timezone", str),
        "permit": ("permit", str),
    },
    "points": {
        "naira_per_point": ("naira_per_point", int),
        "mode": ("points_mode", str),
        "entry_cap": ("entry_cap", int),
    },
    "window": {
        "kind": ("window", str),
        "start_date": ("start_date", date),
        "cutoff_time": ("cutoff_time", (str, time)),
    },
    "draw": {
        "reserves_per_tier": ("reserves_per_tier", int),
        "exclude_recent_winners_days": ("exclude_recent_winners_days", int),
        "award_partial": ("award_partial", bool),
    },
    "beacon": {
        "commit_margin_seconds": ("beacon_margin_seconds", int),
        "max_ahead_hours": ("beacon_max_ahead_hours", int),
        "wait_seconds": ("beacon_wait_seconds", int),
    },
}
_PRIZE_KEYS: dict[str, type] = {"name": str, "value_ngn": int, "count": int}


def load_promotion(path: str | Path | None = None) -> PromotionConfig:
    """Load a promotion config from a TOML file; the embedded default when ``path`` is None."""
    if path is None:
        return PromotionConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read promotion config {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"promotion config {path} is not UTF-8 text") from exc
    return parse_promotion(text, source=str(path))


def parse_promotion(text: str, source: str = "<config>") -> PromotionConfig:
    """Parse promotion TOML text; errors name the file and the offending key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    return promotion_from_dict(data, source)


def promotion_from_dict(data: Mapping[str, Any], source: str = "<config>") -> PromotionConfig:
    """Build a PromotionConfig from parsed TOML, checking every key and type."""
    values: dict[str, Any] = {}
    known = set(_SCHEMA) | {"prizes", "posthog"}
    for section, content in data.items():
        if section not in known:
            raise ConfigError(f"{source}: unknown section or key '{section}'")
        if section == "prizes":
            values["prizes"] = _parse_prizes(content, source)
        elif section == "posthog":
            values["posthog"] = _parse_posthog(content, source)
        else:
            values.update(_parse_section(section, content, source))
    config = PromotionConfig(**values)
    _check_promotion(config, source)
    return config


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", date: "a date"}
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_type(key: str, value: Any, expected: type | tuple[type, ...], source: str) -> None:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    if bool not in kinds and isinstance(value, bool):
        ok = False  # TOML true is not an integer 1
    else:
        ok = isinstance(value, kinds)
    if date in kinds and isinstance(value, date) and not isinstance(value, time):
        ok = ok and type(value) is date  # a datetime is not a date here
    if not ok:
        raise ConfigError(
            f"{source}: '{key}' must be {_type_name(expected)}, got {type(value).__name__} "
            f"{value!r}"
        )


def _parse_section(section: str, content: Any, source: str) -> dict[str, Any]:
    if not isinstance(content, Mapping):
        raise ConfigError(f"{source}: '{section}' must be a table ([{section}])")
    schema = _SCHEMA[section]
    out: dict[str, Any] = {}
    for key, value in content.items():
        if key not in schema:
            allowed = ", ".join(schema)
            raise ConfigError(f"{source}: unknown key '{section}.{key}' (allowed: {allowed})")
        attribute, expected = schema[key]
        _check_type(f"{section}.{key}", value, expected, source)
        if attribute == "cutoff_time" and isinstance(value, str):
            value = _parse_time(f"{section}.{key}", value, source)
        out[attribute] = value
    return out


def _parse_time(key: str, value: str, source: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(
            f"{source}: '{key}' must be a time like \"00:00\", got {value!r}"
        ) from exc


def _parse_prizes(content: Any, source: str) -> tuple[PrizeTier, ...]:
    if not isinstance(content, list) or not content:
        raise ConfigError(f"{source}: 'prizes' must be a non-empty array of [[prizes]] tables")
    tiers = []
    for i, item in enumerate(content):
        where = f"prizes[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{source}: '{where}' must be a table with name, value_ngn, count")
        for key in item:
            if key not in _PRIZE_KEYS:
                raise ConfigError(
                    f"{source}: unknown key '{where}.{key}' (allowed: name, value_ngn, count)"
                )
        for key, expected in _PRIZE_KEYS.items():
            if key not in item:
                raise ConfigError(f"{source}: '{where}.{key}' is missing")
            _check_type(f"{where}.{key}", item[key], expected, source)
        tiers.append(PrizeTier(item["name"], item["value_ngn"], item["count"]))
    return tuple(tiers)


def _parse_posthog(content: Any, source: str) -> PostHogNames:
    if not isinstance(content, Mapping):
        raise ConfigError(f"{source}: 'posthog' must be a table ([posthog])")
    allowed = {f.name for f in fields(PostHogNames)}
    for key, value in content.items():
        if key not in allowed:
            raise ConfigError(
                f"{source}: unknown key 'posthog.{key}' (allowed: {', '.join(sorted(allowed))})"
            )
        _check_type(f"posthog.{key}", value, str, source)
        if not value.strip():
            raise ConfigError(f"{source}: 'posthog.{key}' must not be empty")
    return PostHogNames(**content)


def _check_promotion(config: PromotionConfig, source: str) -> None:
    """Cross-field checks, each naming the key at fault."""
    if not config.name.strip():
        raise ConfigError(f"{source}: 'promotion.name' must not be empty")
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{source}: 'promotion.timezone' {config.timezone!r} is not an IANA timezone "
            "such as Africa/Lagos"
        ) from exc
    if config.naira_per_point <= 0:
        raise ConfigError(f"{source}: 'points.naira_per_point' must be positive")
    if config.points_mode not in ("per_recharge", "summed"):
        raise ConfigError(f"{source}: 'points.mode' must be \"per_recharge\" or \"summed\"")
    if config.entry_cap is not None and config.entry_cap < 1:
        raise ConfigError(f"{source}: 'points.entry_cap' must be at least 1 (omit it for no cap)")
    if config.window not in ("daily", "cumulative"):
        raise ConfigError(f"{source}: 'window.kind' must be \"daily\" or \"cumulative\"")
    if config.window == "cumulative" and config.start_date is None:
        raise ConfigError(f"{source}: 'window.start_date' is required for a cumulative window")
    if config.reserves_per_tier < 0:
        raise ConfigError(f"{source}: 'draw.reserves_per_tier' must not be negative")
    if config.exclude_recent_winners_days < 0:
        raise ConfigError(f"{source}: 'draw.exclude_recent_winners_days' must not be negative")
    if config.beacon_margin_seconds < 0:
        raise ConfigError(f"{source}: 'beacon.commit_margin_seconds' must not be negative")
    if config.beacon_max_ahead_hours < 1:
        raise ConfigError(f"{source}: 'beacon.max_ahead_hours' must be at least 1")
    if config.beacon_wait_seconds < 0:
        raise ConfigError(f"{source}: 'beacon.wait_seconds' must not be negative")
    names = set()
    for i, tier in enumerate(config.prizes):
        if not tier.name.strip():
            raise ConfigError(f"{source}: 'prizes[{i}].name' must not be empty")
        if tier.name in names:
            raise ConfigError(f"{source}: 'prizes[{i}].name' {tier.name!r} is used twice")
        names.add(tier.name)
        if tier.count < 1:
            raise ConfigError(f"{source}: 'prizes[{i}].count' must be at least 1")
        if tier.value_ngn < 0:
            raise ConfigError(f"{source}: 'prizes[{i}].value_ngn' must not be negative")


DEFAULT_PROMOTION_TOML = """\
# drawkit promotion config (TOML). Every key is optional: these are the defaults.
# An unknown key or a wrong type is an error naming the key. Keys in docs/promotion-config.md.

[promotion]
name = "drawkit demo promotion"  # shown on every report; its slug + date is the draw id
timezone = "Africa/Lagos"        # IANA zone of the cutoff and of timestamps without an offset
# permit = "LSLGA/PROMO/2026/001"  # regulator's permit number, printed on the reports (none)

[points]
naira_per_point = 100            # every N naira recharged is one point; one point = one entry
mode = "per_recharge"            # "per_recharge": each recharge on its own (₦250 = 2, ₦50 = 0);
                                 # "summed": a day's recharges added first (₦50 + ₦50 = 1)
# entry_cap = 500                # most entries one participant can hold in a draw (no cap)

[window]
kind = "daily"                   # "daily": the 24 hours before the cutoff;
                                 # "cumulative": from start_date to the cutoff
# start_date = 2026-11-01        # first day of a cumulative window (required for it)
cutoff_time = "00:00"            # the window ends at this time on the draw date, local time

# One [[prizes]] table per tier, drawn in this order (the first is the top prize).
[[prizes]]
name = "Grand prize"             # tier name, unique; shown on reports and published results
value_ngn = 100000               # prize value in naira (whole number, 0 allowed)
count = 1                        # winners of this tier per draw (at least 1)

[[prizes]]
name = "Airtime bundle"
value_ngn = 5000
count = 10

[draw]
reserves_per_tier = 3            # ordered reserves drawn per tier, to replace drop-outs
exclude_recent_winners_days = 0  # winners of the last N days' draws cannot win (0: no rule)
award_partial = false            # true: award what can be awarded when the cohort is smaller
                                 # than the prizes; false: refuse to draw

[beacon]                         # the public randomness (docs/beacon.md)
commit_margin_seconds = 60       # the committed drand round is published at least this long
                                 # after the commitment (clock safety); commit refuses sooner
max_ahead_hours = 48             # commit refuses a round published further ahead than this
wait_seconds = 600               # drawkit report and draw --wait wait at most this long

[posthog]                        # names of the data contract in PostHog
recharge_event = "recharge"               # event name of a recharge
amount_property = "amount_ngn"            # event property: amount in naira
transaction_property = "transaction_id"   # event property: unique transaction id
msisdn_property = "msisdn"                # event and person property: the number (E.164)
channel_property = "channel"              # event property: recharge channel (informative)
blacklist_property = "blacklisted"        # person property: true = excluded from draws
points_property = "points"                # person property for a points total (not read yet)
cohort_name_prefix = "drawkit daily"      # daily cohorts are named "<prefix> <YYYY-MM-DD>"
"""
