"""Settings from the environment and the strict promotion config."""

from __future__ import annotations

import secrets
from datetime import date, time
from pathlib import Path

import pytest

from drawkit.config import (
    DEFAULT_PROMOTION_TOML,
    PromotionConfig,
    Settings,
    load_promotion,
    parse_promotion,
    validate_base_url,
)
from drawkit.errors import ConfigError, SettingsError

# Made at run time: no key-shaped token is ever committed, not even a fake one.
KEY = "phx_" + secrets.token_hex(20)
PROJECT_KEY = "phc_" + secrets.token_hex(16)
GOOD = {
    "POSTHOG_API_KEY": KEY,
    "POSTHOG_PROJECT_ID": "12345",
    "POSTHOG_BASE_URL": "https://eu.posthog.com/",
    "POSTHOG_PROJECT_API_KEY": PROJECT_KEY,
}


def test_settings_from_env() -> None:
    settings = Settings.from_env(GOOD, require_capture=True)
    assert settings.base_url == "https://eu.posthog.com"
    assert settings.project_id == "12345"
    assert settings.secrets == (KEY, PROJECT_KEY)
    assert KEY not in repr(settings) and PROJECT_KEY not in repr(settings)


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"POSTHOG_API_KEY": ""}, "POSTHOG_API_KEY"),
        ({"POSTHOG_API_KEY": PROJECT_KEY}, "POSTHOG_API_KEY"),
        ({"POSTHOG_PROJECT_ID": ""}, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_PROJECT_ID": "my-project"}, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_BASE_URL": "http://posthog.example.com"}, "POSTHOG_BASE_URL"),
        ({"POSTHOG_BASE_URL": "ftp://x"}, "POSTHOG_BASE_URL"),
        ({"POSTHOG_PROJECT_API_KEY": ""}, "POSTHOG_PROJECT_API_KEY"),
        ({"POSTHOG_PROJECT_API_KEY": KEY}, "POSTHOG_PROJECT_API_KEY"),
    ],
)
def test_settings_errors_name_the_variable_never_the_value(change: dict, variable: str) -> None:
    env = {**GOOD, **change}
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env, require_capture=True)
    message = str(info.value)
    assert variable in message
    for secret in (KEY, PROJECT_KEY):
        assert secret not in message
        assert secret[4:] not in message


def test_plain_http_is_allowed_to_loopback_only() -> None:
    assert validate_base_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert validate_base_url("http://localhost:1") == "http://localhost:1"
    assert validate_base_url("http://[::1]:9") == "http://[::1]:9"
    with pytest.raises(SettingsError, match="HTTPS"):
        validate_base_url("http://10.0.0.5")


def test_default_toml_equals_default_config() -> None:
    assert parse_promotion(DEFAULT_PROMOTION_TOML) == PromotionConfig()
    assert load_promotion(None) == PromotionConfig()


def test_default_toml_explains_every_key() -> None:
    """`drawkit config --default` prints this text: each key, optional ones too, is there
    with a comment saying what it does."""
    from dataclasses import fields

    from drawkit.config import _PRIZE_KEYS, _SCHEMA, PostHogNames

    keys = [key for section in _SCHEMA.values() for key in section]
    keys += list(_PRIZE_KEYS) + [f.name for f in fields(PostHogNames)]
    for key in keys:
        line = next(
            (
                ln
                for ln in DEFAULT_PROMOTION_TOML.splitlines()
                if ln.lstrip("# ").startswith(f"{key} =")
            ),
            None,
        )
        assert line is not None, f"{key} is missing from DEFAULT_PROMOTION_TOML"
        assert "#" in line.lstrip("# "), f"{key} has no comment"


def test_full_config(tmp_path: Path) -> None:
    path = tmp_path / "promo.toml"
    path.write_text(
        '[promotion]\nname = "Recharge & Win"\n'
        '[points]\nmode = "summed"\nentry_cap = 50\nnaira_per_point = 200\n'
        '[window]\nkind = "cumulative"\nstart_date = 2026-11-01\ncutoff_time = "18:30"\n'
        '[[prizes]]\nname = "Car"\nvalue_ngn = 5000000\ncount = 1\n',
        encoding="utf-8",
    )
    config = load_promotion(path)
    assert config.points_mode == "summed" and config.entry_cap == 50
    assert config.naira_per_point == 200
    assert config.start_date == date(2026, 11, 1) and config.cutoff_time == time(18, 30)
    assert [t.name for t in config.prizes] == ["Car"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[points]\nentry_kap = 5\n", "points.entry_kap"),
        ("[pointz]\nentry_cap = 5\n", "pointz"),
        ('[points]\nentry_cap = "5"\n', "points.entry_cap"),
        ("[points]\nentry_cap = true\n", "points.entry_cap"),
        ("[points]\nentry_cap = 0\n", "points.entry_cap"),
        ('[points]\nmode = "weekly"\n', "points.mode"),
        ('[window]\nkind = "cumulative"\n', "window.start_date"),
        ('[window]\nstart_date = "2026-11-01"\n', "window.start_date"),
        ('[window]\ncutoff_time = "25:00"\n', "window.cutoff_time"),
        ('[promotion]\ntimezone = "Lagos"\n', "promotion.timezone"),
        ('[[prizes]]\nname = "A"\nvalue_ngn = 1\n', "prizes[0].count"),
        ('[[prizes]]\nname = "A"\nvalue_ngn = 1\ncount = 1\ncolour = 2\n', "prizes[0].colour"),
        ('[posthog]\nrecharge_evnt = "x"\n', "posthog.recharge_evnt"),
        ("[draw]\naward_partial = 1\n", "draw.award_partial"),
    ],
)
def test_promotion_errors_name_the_key(text: str, names: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_promotion(text, source="promo.toml")
    assert names in str(info.value)
    assert "promo.toml" in str(info.value)


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_promotion(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[points]")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_promotion(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[points\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_promotion(broken)
