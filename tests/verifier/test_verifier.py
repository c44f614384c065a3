"""The browser verifier (drawkit/verifier/): its JavaScript under Node's test runner, and
agreement with the Python engine on every record these tests produce.

Node is installed by ``make node`` (``make test`` runs it); when it is missing these tests
FAIL rather than skip, so an unchecked verifier never looks like a passing one."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from drawkit.draw import verify_record
from drawkit.sources.local import read_participants
from drawkit.verifier import FILES, PAGE_DIR, check_vendored, copy_verifier
from tests.verifier.conftest import HERE, node, run_node_cases

ROOT = HERE.parents[1]


def test_node_test_runner_passes_every_javascript_test() -> None:
    out = subprocess.run(
        [node(), "--test", *sorted(str(p) for p in HERE.glob("*.test.mjs"))],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )
    summary = dict(re.findall(r"^# (tests|pass|fail) (\d+)$", out.stdout, re.MULTILINE))
    assert out.returncode == 0 and summary.get("fail") == "0", out.stdout[-4000:] + out.stderr
    assert int(summary["tests"]) >= 20 and summary["pass"] == summary["tests"]


def _python_verdict(record_path: Path, participants_csv: Path) -> tuple[bool, list[str]]:
    from drawkit.draw.record import DrawRecord

    record = DrawRecord.from_json(record_path.read_text(encoding="utf-8"))
    report = verify_record(record, read_participants(participants_csv))
    return report.ok, [d.field for d in report.differences]


def test_both_implementations_match_every_engine_record(engine_cases, tmp_path) -> None:
    jobs = []
    for case in engine_cases:
        for kind in ("private", "public"):
            jobs.append({"name": f"{case.name}/{kind}", "record": str(getattr(case, kind)),
                         "participants": str(case.participants_csv)})
        jobs.append({"name": f"{case.name}/public-list", "record": str(case.public),
                     "public_cohort": str(case.public_cohort)})
        jobs.append({"name": f"{case.name}/record-alone", "record": str(case.public)})
    results = run_node_cases(jobs, tmp_path)
    for case in engine_cases:
        for kind in ("private", "public"):
            ok, fields = _python_verdict(getattr(case, kind), case.participants_csv)
            assert ok, (case.name, kind, fields)
            js = results[f"{case.name}/{kind}"]
            assert js["verdict"] == "MATCH", (case.name, kind, js["lines"])
            assert "Record hash" not in js["not_checked"], (case.name, kind)
        listed = results[f"{case.name}/public-list"]
        assert listed["verdict"] == "MATCH", (case.name, listed["lines"])
        assert ["Winners", "match"] in listed["checks"]
        alone = results[f"{case.name}/record-alone"]
        assert alone["verdict"] == "MATCH", (case.name, alone["lines"])
        assert ["Tickets", "match"] in alone["checks"] and "Winners" in alone["not_checked"]


def test_vendored_library_matches_its_pinned_checksum() -> None:
    sums = check_vendored()
    assert set(sums) == {"noble-bls12-381.js"}
    readme = (PAGE_DIR / "vendor" / "README.md").read_text(encoding="utf-8")
    assert "@noble/curves` | 2.3.0" in readme


def test_copy_verifier_refuses_a_changed_vendored_file(tmp_path, monkeypatch) -> None:
    import drawkit.verifier as verifier
    from drawkit.errors import VerificationError

    fake = tmp_path / "page"
    for name in FILES:
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_bytes((PAGE_DIR / name).read_bytes())
    lib = fake / "vendor" / "noble-bls12-381.js"
    lib.write_bytes(lib.read_bytes().replace(b"return", b"return ", 1))
    monkeypatch.setattr(verifier, "PAGE_DIR", fake)
    with pytest.raises(VerificationError, match="vendor/noble-bls12-381.js does not match"):
        verifier.copy_verifier(tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_copy_verifier_builds_the_public_record_in_and_refuses_the_private_one(
    engine_cases, tmp_path
) -> None:
    from drawkit.errors import InputError

    case = next(c for c in engine_cases if c.name == "recent-day-2")
    index = copy_verifier(tmp_path / "report", public_record=case.public)
    assert index == tmp_path / "report" / "verifier" / "index.html"
    for name in FILES:
        assert (index.parent / name).is_file(), name
    embedded = (index.parent / "record-data.js").read_text(encoding="utf-8")
    text = json.loads(embedded.split(" = ", 1)[1].rstrip().rstrip(";"))
    assert text == case.public.read_text(encoding="utf-8")
    with pytest.raises(InputError, match="full phone numbers"):
        copy_verifier(tmp_path / "other", public_record=case.private)


def test_page_files_carry_no_phone_number_or_key(tmp_path) -> None:
    from drawkit.reports.scan import scan_files

    index = copy_verifier(tmp_path)
    assert scan_files(sorted(p for p in index.parent.rglob("*") if p.is_file()), ()) == []
