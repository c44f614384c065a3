"""Draw records edited by hand: fields changed, removed or garbled.

``DrawRecord.from_json`` and ``verify_record`` (what ``drawkit verify`` runs) must answer
with a clear DrawkitError or a MISMATCH report, never an unhandled exception, and an
edited record must never verify.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawkit.config import PrizeTier, PromotionConfig
from drawkit.draw import DrawRecord, Ledger, verify_record
from drawkit.errors import DrawkitError

pytestmark = pytest.mark.reliability

DAY = date(2026, 11, 24)


def participants(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "msisdn": [f"+23480{30000000 + 7919 * i:08d}" for i in range(n)],
            "entries": rng.integers(1, 40, n),
        }
    )


CONFIG = PromotionConfig(
    name="Fuzz promo",
    prizes=(PrizeTier("Grand", 100_000, 1), PrizeTier("Bundle", 5_000, 2)),
    reserves_per_tier=1,
    exclude_recent_winners_days=7,
)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory, signed_rounds) -> tuple[dict[str, Any], Ledger]:  # noqa: ANN001
    ledger_dir = tmp_path_factory.mktemp("record-fuzz") / "ledger"
    record = signed_rounds.commit_and_draw(
        participants(), CONFIG, DAY, ledger_dir, 11, secret=bytes.fromhex("5e" * 32)
    )
    return record.to_dict(), Ledger(ledger_dir)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=10),
        st.sampled_from(["", "zz", "2026-13-45", "+2348030000000", "be" * 31, "draw"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``data`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*prefix, i))
    return found


def _get(data: Any, path: tuple) -> Any:
    for step in path:
        data = data[step]
    return data


def _parent(data: Any, path: tuple) -> Any:
    return _get(data, path[:-1])


STRUCTURAL = ("remove", "add", "truncate")
VALUE_EDITS = ("change", "garble")


@st.composite
def edited(draw: st.DrawFn, original: dict[str, Any], kinds: tuple[str, ...]) -> tuple[str, str]:
    """A hand edit of the record's JSON text: (text, what was done)."""
    data = copy.deepcopy(original)
    kind = draw(st.sampled_from(kinds))
    text = json.dumps(data, indent=2)
    if kind in ("change", "remove"):
        path = draw(st.sampled_from(_paths(data)))
        parent = _parent(data, path)
        if kind == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
        return json.dumps(data, indent=2), f"{kind} {'.'.join(map(str, path))}"
    if kind == "add":
        tables = [p for p in [(), *_paths(data)] if isinstance(_get(data, p), dict)]
        target = _get(data, draw(st.sampled_from(tables)))
        target[draw(st.text(min_size=1, max_size=6))] = draw(json_values)
        return json.dumps(data, indent=2), "add a field"
    if kind == "truncate":
        cut = draw(st.integers(0, len(text) - 1))
        return text[:cut], f"truncate at {cut}"
    at = draw(st.integers(0, len(text) - 1))
    junk = draw(st.text(min_size=1, max_size=4))
    return text[:at] + junk + text[at + 1 :], f"garble at {at}"


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True)


def check_edit(text: str, original: dict[str, Any], ledger: Ledger, counts: dict) -> str:
    """Parse and verify an edited record; returns how it ended (raises on a wrong end)."""
    counts["edits"] += 1
    try:
        record = DrawRecord.from_json(text)
        report = verify_record(record, participants(), ledger=ledger, accept_test_chain=True)
        report.format()
    except DrawkitError:
        counts["error"] += 1
        return "error"
    if _canonical(record.to_dict()) == _canonical(original):
        counts["unchanged"] += 1
        assert report.ok, "an unchanged record must verify"
        return "unchanged"
    counts["mismatch"] += 1
    assert not report.ok, "an edited record verified"
    return "mismatch"


STRUCTURAL_CASES = {"edits": 0, "error": 0, "mismatch": 0, "unchanged": 0}
VALUE_CASES = {"edits": 0, "error": 0, "mismatch": 0, "unchanged": 0}


@settings(max_examples=600)
@given(data=st.data())
def test_record_with_fields_removed_added_or_truncated_gives_drawkit_error_or_mismatch(
    drawn,
    data,  # noqa: ANN001
) -> None:
    original, ledger = drawn
    text, what = data.draw(edited(original, STRUCTURAL), label="edit")
    check_edit(text, original, ledger, STRUCTURAL_CASES)


def test_record_with_values_changed_or_garbled_gives_drawkit_error_or_mismatch(
    drawn,
    reliability,  # noqa: ANN001
) -> None:
    """Every field set to each of a few wrong-typed or malformed values, then 300 random
    value edits and garbles; collects the escapes, then fails if there were any."""
    original, ledger = drawn
    escapes: dict[str, str] = {}
    for path in _paths(original):
        for value in (None, 5, "zz", [], {}, 1.5, True, "2026-13-45"):
            data = copy.deepcopy(original)
            _parent(data, path)[path[-1]] = value
            _try(json.dumps(data), original, ledger, escapes, f"{_dotted(path)}={value!r}")

    @settings(max_examples=300)
    @given(data=st.data())
    def random_edits(data) -> None:  # noqa: ANN001
        text, what = data.draw(edited(original, VALUE_EDITS), label="edit")
        _try(text, original, ledger, escapes, what)

    random_edits()
    reliability.add(
        "bad input: draw record",
        "every record field (top-level and nested) set to null, a number, 'zz', [], {}, "
        "1.5, true, a bad date; plus random value changes and garbled characters; "
        "then from_json + verify_record",
        VALUE_CASES["edits"],
        f"DrawkitError ({VALUE_CASES['error']}) or a MISMATCH report "
        f"({VALUE_CASES['mismatch']}); "
        + (
            f"{len(escapes)} edits escaped as another exception, e.g. "
            + "; ".join(f"{k}: {v}" for k, v in list(escapes.items())[:3])
            if escapes
            else "no other exception, no edited record verified"
        ),
    )
    assert not escapes, escapes


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def _try(text: str, original: dict, ledger: Ledger, escapes: dict[str, str], what: str) -> None:
    try:
        check_edit(text, original, ledger, VALUE_CASES)
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - collecting what escaped is the point
        escapes[what] = f"{type(exc).__name__}"


def test_unedited_record_verifies(drawn) -> None:  # noqa: ANN001
    original, ledger = drawn
    record = DrawRecord.from_json(json.dumps(original))
    assert verify_record(record, participants(), ledger=ledger, accept_test_chain=True).ok


def test_record_fuzz_figures(reliability) -> None:  # noqa: ANN001
    cases = STRUCTURAL_CASES
    assert cases["edits"] > 0 and cases["error"] > 0 and cases["mismatch"] > 0
    reliability.add(
        "bad input: draw record",
        "record JSON edited by hand: a field (top-level or nested) removed or added, "
        "the text truncated; then from_json + verify_record",
        cases["edits"],
        f"DrawkitError ({cases['error']}) or a MISMATCH report ({cases['mismatch']}); "
        "no edited record verified, no other exception",
    )
