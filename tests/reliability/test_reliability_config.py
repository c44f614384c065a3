"""Promotion configs (TOML) with wrong types, unknown and missing keys, garbage bytes."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from datetime import date, time

import pytest
import toml_text
from hypothesis import given, settings
from hypothesis import strategies as st

from drawkit.config import (
    _SCHEMA,
    DEFAULT_PROMOTION_TOML,
    PostHogNames,
    PromotionConfig,
    load_promotion,
    parse_promotion,
)
from drawkit.errors import ConfigError

pytestmark = pytest.mark.reliability

DEFAULT = tomllib.loads(DEFAULT_PROMOTION_TOML)
SECTIONS = [k for k, v in DEFAULT.items() if isinstance(v, dict)]

# Values of every TOML type, including ones that look right but are not (1.0, "100").
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(["", " ", "100", "daily", "summed", "00:00", "25:61", "UTC", "../etc"]),
    st.dates(),
    st.times(),
    st.datetimes(),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=4), scalars, max_size=2),
)
key_names = st.one_of(
    st.sampled_from(["name", "count", "value_ngn", "kind", "mode", "entry_cap", "colour"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10),
)


@st.composite
def mutated_config(draw: st.DrawFn) -> tuple[dict, str, str | None]:
    """The default config with one edit; returns (data, what was done, key touched)."""
    data = tomllib.loads(DEFAULT_PROMOTION_TOML)
    kind = draw(st.sampled_from(["set", "delete", "unknown", "section", "prize", "top"]))
    if kind == "set":
        section = draw(st.sampled_from(SECTIONS))
        key = draw(st.sampled_from(sorted(data[section])))
        data[section][key] = draw(values)
        return data, kind, f"{section}.{key}"
    if kind == "delete":
        section = draw(st.sampled_from(SECTIONS + ["prizes"]))
        if section == "prizes" or draw(st.booleans()):
            del data[section]
            return data, kind, None
        key = draw(st.sampled_from(sorted(data[section])))
        del data[section][key]
        return data, kind, None
    if kind == "unknown":
        section = draw(st.sampled_from(SECTIONS))
        known = set(data[section]) | set(_SCHEMA.get(section, {}))  # optional keys are known
        key = draw(key_names.filter(lambda k: k not in known))
        data[section][key] = draw(values)
        return data, kind, f"{section}.{key}"
    if kind == "section":
        section = draw(st.sampled_from(SECTIONS + ["prizes"]))
        data[section] = draw(scalars)
        return data, kind, section
    if kind == "prize":
        i = draw(st.integers(0, len(data["prizes"]) - 1))
        key = draw(key_names)
        action = draw(st.sampled_from(["set", "delete"]))
        if action == "delete" and key in data["prizes"][i]:
            del data["prizes"][i][key]
            return data, "prize-delete", f"prizes[{i}].{key}"
        data["prizes"][i][key] = draw(values)
        return data, "prize-set", f"prizes[{i}].{key}"
    key = draw(key_names.filter(lambda k: k not in data))
    data[key] = draw(values)
    return data, kind, key


def well_typed(config: PromotionConfig) -> None:
    """Every field of an accepted config has the type the draw relies on."""

    def is_int(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    assert isinstance(config.name, str) and config.name.strip()
    assert isinstance(config.timezone, str)
    config.tz  # noqa: B018 - must not raise
    assert config.permit is None or isinstance(config.permit, str)
    assert is_int(config.naira_per_point) and config.naira_per_point > 0
    assert config.points_mode in ("per_recharge", "summed")
    assert config.window in ("daily", "cumulative")
    assert config.start_date is None or type(config.start_date) is date
    assert isinstance(config.cutoff_time, time)
    assert config.entry_cap is None or (is_int(config.entry_cap) and config.entry_cap >= 1)
    assert is_int(config.reserves_per_tier) and config.reserves_per_tier >= 0
    assert is_int(config.exclude_recent_winners_days)
    assert isinstance(config.award_partial, bool)
    assert config.prizes
    for tier in config.prizes:
        assert isinstance(tier.name, str) and is_int(tier.value_ngn) and is_int(tier.count)
        assert tier.count >= 1
    for f in fields(PostHogNames):
        assert isinstance(getattr(config.posthog, f.name), str)


CASES = {"mutations": 0, "rejected": 0, "accepted": 0, "named": 0, "garbage": 0}


@settings(max_examples=1000)
@given(mutated_config())
def test_mutated_promotion_config_is_accepted_well_typed_or_rejected_naming_the_key(
    case: tuple[dict, str, str | None],
) -> None:
    data, kind, key = case
    text = toml_text.dumps(data)
    CASES["mutations"] += 1
    try:
        config = parse_promotion(text, source="promo.toml")
    except ConfigError as exc:
        CASES["rejected"] += 1
        message = str(exc)
        assert "promo.toml" in message
        if kind in ("unknown", "top", "section", "prize-delete") and key is not None:
            leaf = key.rsplit(".", 1)[-1]
            assert leaf in message, (kind, key, message)
            CASES["named"] += 1
        return
    CASES["accepted"] += 1
    assert kind not in ("unknown", "top", "prize-delete"), (kind, key)
    well_typed(config)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-16")),
        st.text(max_size=200).map(
            lambda t: ("[promotion]\nname = '" + t).encode("latin-1", "replace")
        ),
        st.sampled_from([DEFAULT_PROMOTION_TOML.encode("utf-16"), b"\xff\xfe\x00", b"", b"[["]),
    )
)
def test_promotion_file_with_garbage_bytes_gives_config_error(tmp_path_factory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("cfg") / "promo.toml"
    path.write_bytes(raw)
    CASES["garbage"] += 1
    try:
        config = load_promotion(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
        return
    well_typed(config)


def test_config_fuzz_figures(reliability) -> None:  # noqa: ANN001
    """Runs after the two property tests above (file order) and reports their figures."""
    assert CASES["mutations"] > 0 and CASES["garbage"] > 0
    assert CASES["rejected"] > 0 and CASES["accepted"] > 0
    reliability.add(
        "bad input: promotion config",
        "default config with one random edit (wrong type, unknown key, missing key, "
        "section replaced by a scalar, prize key changed/removed)",
        CASES["mutations"],
        f"only ConfigError escaped ({CASES['rejected']} rejected, {CASES['accepted']} accepted "
        f"and well typed); unknown/missing keys named in the message ({CASES['named']} checked)",
    )
    reliability.add(
        "bad input: promotion config",
        "config file of random bytes, UTF-16, latin-1, truncated TOML",
        CASES["garbage"],
        "ConfigError naming the file, never another exception",
    )


def test_missing_config_file_names_the_path(tmp_path, reliability) -> None:  # noqa: ANN001
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="nope.toml"):
        load_promotion(missing)
    with pytest.raises(ConfigError, match=tmp_path.name):
        load_promotion(tmp_path)  # a directory
    reliability.add(
        "bad input: promotion config",
        "missing file, directory instead of file",
        2,
        "ConfigError naming the path",
    )
