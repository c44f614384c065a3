"""The browser verifier: a static page that re-derives a draw from its public record.

The page (``index.html``, ``js/``, ``vendor/``) is a second implementation of
docs/draw-spec.md in JavaScript, written from the spec and not from drawkit's code: it
needs no server and no network, and works from ``file://``. :func:`copy_verifier` puts it
into a report folder; :func:`write_public_cohort` writes the masked cohort list an entrant
checks their number against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drawkit.draw.engine import prepare_cohort
from drawkit.draw.record import DrawRecord
from drawkit.errors import InputError, VerificationError
from drawkit.store import write_public

PAGE_DIR = Path(__file__).resolve().parent
FOLDER = "verifier"
EMBEDDED_RECORD = "record-data.js"
PUBLIC_COHORT_FILE = "cohort.public.csv"
VENDOR_SUMS = "vendor/SHA256SUMS"
SCRIPTS = ("core.js", "record.js", "cohort.js", "draw.js", "beacon.js", "verify.js", "page.js")
FILES = (
    "index.html",
    EMBEDDED_RECORD,
    *(f"js/{name}" for name in SCRIPTS),
    "vendor/noble-bls12-381.js",
    VENDOR_SUMS,
    "vendor/README.md",
    "vendor/LICENSE.noble-curves",
)


def check_vendored(page_dir: Path | None = None) -> dict[str, str]:
    """The vendored files' SHA-256 as listed in ``vendor/SHA256SUMS`` (of the package's page,
    or of the copy at ``page_dir``); raises :class:`VerificationError` naming a file whose
    content differs from its checksum."""
    page_dir = page_dir or PAGE_DIR
    sums = {}
    for line in (page_dir / VENDOR_SUMS).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    for name, digest in sums.items():
        path = page_dir / "vendor" / name
        found = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
        if found != digest:
            raise VerificationError(
                f"vendored file vendor/{name} does not match vendor/SHA256SUMS "
                f"(expected {digest}, found {found}): the verifier page is not the pinned build"
            )
    return sums


def copy_verifier(dest_dir: str | Path, *, public_record: str | Path | None = None) -> Path:
    """Copy the verifier page into ``dest_dir/verifier/`` and return its ``index.html``.

    The vendored BLS library is checked against its pinned checksum first. With
    ``public_record`` (the masked copy, e.g. ``record.public.json``) the page opens with
    that record built in; a record holding a full phone number is refused.
    """
    check_vendored()
    target = Path(dest_dir) / FOLDER
    for name in FILES:
        source = PAGE_DIR / name
        write_public(target / name, source.read_bytes())
    if public_record is not None:
        write_public(target / EMBEDDED_RECORD, embedded_record_script(Path(public_record)))
    check_vendored(target)
    return target / "index.html"


def embedded_record_script(path: Path) -> str:
    """``record-data.js`` holding the text of the public record at ``path``."""
    text = path.read_text(encoding="utf-8")
    record = DrawRecord.from_json(text)
    numbers = [w.msisdn for w in record.winners] + list(record.excluded_msisdns)
    if any("*" not in n for n in numbers):
        raise InputError(
            f"{path} holds full phone numbers: build the page with the public copy "
            "(record.public.json), never the private record"
        )
    return (
        "/* The public record of this report folder (drawkit.verifier.copy_verifier). */\n"
        f"globalThis.DRAWKIT_EMBEDDED_RECORD = {json.dumps(text)};\n"
    )


def write_public_cohort(
    record: DrawRecord, participants: pd.DataFrame, dest_dir: str | Path
) -> Path:
    """Write ``cohort.public.csv`` (docs/draw-spec.md 11.4): the cohort ``record`` drew
    from, in canonical order, one ``masked number,entries`` line per participant.

    ``record`` is the private record (its exclusions hold full numbers) and
    ``participants`` the participants file; their cohort digest must be the record's.
    """
    if any("*" in m for m in record.excluded_msisdns):
        raise InputError("the public cohort list needs the private record (full exclusions)")
    cohort = prepare_cohort(participants, set(record.excluded_msisdns)).cohort
    if cohort.digest != record.cohort_digest:
        raise VerificationError(
            f"these participants are not the cohort of draw {record.draw_id}: digest "
            f"{cohort.digest} differs from the record's {record.cohort_digest}"
        )
    lines = _masked_lines(cohort.msisdns, cohort.entries)
    return write_public(Path(dest_dir) / PUBLIC_COHORT_FILE, lambda out: _write_lines(out, lines))


def _masked_lines(msisdns: np.ndarray, entries: np.ndarray) -> pa.Array:
    """``0803****567,12`` for each E.164 number (+234 and 10 digits) and its entries."""
    numbers = pa.array(msisdns.astype(str), type=pa.string())
    return pc.binary_join_element_wise(
        "0",
        pc.utf8_slice_codeunits(numbers, 4, 7),
        "****",
        pc.utf8_slice_codeunits(numbers, 11, 14),
        ",",
        pa.array(entries, type=pa.int64()).cast(pa.string()),
        "",
    )


def _write_lines(out, lines: pa.Array, chunk: int = 1 << 18) -> None:
    out.write("msisdn_masked,entries\n")
    for start in range(0, len(lines), chunk):
        part: Iterable[str] = lines.slice(start, chunk).to_pylist()
        out.write("\n".join(part) + "\n")


def page_files(page_dir: Path | None = None) -> list[Path]:
    """Every file of the page (for scans and checks)."""
    return [(page_dir or PAGE_DIR) / name for name in FILES]


__all__ = [
    "FILES",
    "FOLDER",
    "PUBLIC_COHORT_FILE",
    "check_vendored",
    "copy_verifier",
    "page_files",
    "write_public_cohort",
]

