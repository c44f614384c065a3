"""Helpers shared by the reliability tests (kept out of conftest so tests can import them)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import phonenumbers
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python process that imports this checkout of drawkit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


# Mobile prefixes of the Nigerian networks (national form without the trunk 0).
PREFIXES = [
    "701", "702", "703", "704", "705", "706", "707", "708", "709",
    "802", "803", "804", "805", "806", "807", "808", "809",
    "810", "811", "812", "813", "814", "815", "816", "817", "818", "819",
    "901", "902", "903", "904", "905", "906", "907", "908", "909", "911", "912", "913",
]  # fmt: skip
E164 = re.compile(r"^\+234[0-9]{10}$")


def is_mobile(national: str) -> bool:
    """libphonenumber's own answer: the oracle the fuzz compares against."""
    parsed = phonenumbers.parse("+234" + national, None)
    return phonenumbers.is_valid_number_for_region(parsed, "NG") and phonenumbers.number_type(
        parsed
    ) in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


nationals = st.builds(
    lambda p, rest: p + rest,
    st.sampled_from(PREFIXES),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
).filter(is_mobile)

separators = st.sampled_from([" ", "-", ".", "", "  ", "\u00a0", "/", "\t"])


@st.composite
def spellings(draw: st.DrawFn, national: str) -> object:
    """One way a person or a spreadsheet writes ``national`` (10 digits, no trunk 0)."""
    sep = draw(separators)
    local = "0" + national
    groups = [local[:4], local[4:7], local[7:]]
    form = draw(st.sampled_from(range(11)))
    text: object
    if form == 0:
        text = sep.join(groups)  # 0803 123 4567
    elif form == 1:
        text = "+234" + sep + sep.join([national[:3], national[3:6], national[6:]])
    elif form == 2:
        text = "234" + national  # without the plus
    elif form == 3:
        text = "00234" + sep + national
    elif form == 4:
        text = national  # the leading 0 lost by a spreadsheet
    elif form == 5:
        text = float("234" + national)  # a spreadsheet turned it into a float
    elif form == 6:
        text = int(local)  # an integer column (drops the 0)
    elif form == 7:
        text = f"({local[:4]}) {local[4:7]}-{local[7:]}"
    elif form == 8:
        text = "+234 (0) " + " ".join([national[:3], national[3:6], national[6:]])
    elif form == 9:
        text = "2340" + national  # the common "234 + trunk 0" slip
    else:
        text = "+234" + national
    if isinstance(text, str):
        text = (
            draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " ", "\n"]))
        )
    return text
