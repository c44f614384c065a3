"""The browser verifier (drawkit/verifier/): its JavaScript under Node's test runner, and
agreement with the Python engine on every record these tests produce.

Node is installed by ``make node`` (``make test`` runs it); when it is missing these tests
FAIL rather than skip, so an unchecked verifier never looks like a passing one."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
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
    return report.rederives, [d.field for d in report.differences]


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


# ------------------------------------------------------------------ spec section 11 vectors

SPEC = ROOT / "docs" / "draw-spec.md"
VERIFIER_BLOCK = re.compile(r"^```json verifier-vector\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def verifier_vectors() -> dict[str, dict]:
    blocks = VERIFIER_BLOCK.findall(SPEC.read_text(encoding="utf-8"))
    return {v["vector"]: v for v in map(json.loads, blocks)}


def test_python_reads_the_participants_file_vector(tmp_path) -> None:
    from drawkit.draw.cohort import canonical_cohort, canonical_lines
    from drawkit.errors import InputError

    vector = verifier_vectors()["participants file"]
    path = tmp_path / "participants.csv"
    path.write_bytes(vector["csv"].encode("utf-8"))
    cohort = canonical_cohort(read_participants(path))
    assert canonical_lines(cohort).decode().splitlines() == vector["canonical_lines"]
    assert cohort.digest == vector["cohort_digest"]
    assert cohort.total_entries == vector["total_entries"]
    for refused in vector["refused"]:
        path.write_text(refused["csv"], encoding="utf-8")
        with pytest.raises(InputError):
            canonical_cohort(read_participants(path))


def test_python_masks_like_the_vector() -> None:
    from drawkit.msisdn import mask

    for written, masked in verifier_vectors()["masks"]["masks"]:
        assert mask(written) == masked, written


def test_quicknet_vector_randomness_is_sha256_of_the_signature() -> None:
    import hashlib

    from drawkit.beacon import QUICKNET_HASH as QUICKNET_CHAIN_HASH

    vector = verifier_vectors()["quicknet rounds"]
    assert vector["chain_hash"] == QUICKNET_CHAIN_HASH
    for r in vector["rounds"]:
        assert hashlib.sha256(bytes.fromhex(r["signature"])).hexdigest() == r["randomness"]


# ------------------------------------------------------------------ differences


def _edited(path: Path, out: Path, edit) -> Path:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _changed_participants(case, out: Path) -> Path:
    frame = case.participants.copy()
    winner = case.record.winners[0].msisdn
    frame.loc[frame["msisdn"] == winner, "entries"] += 1
    frame.to_csv(out, index=False)
    return out


def _next_microsecond(text: str) -> str:
    at = text.index("+") - 1  # the last digit of the microseconds
    return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :]


EDITS = {
    "created_at byte": lambda d: d.update(created_at=_next_microsecond(d["created_at"])),
    "ticket": lambda d: d["winners"][1].update(ticket=d["winners"][1]["ticket"] + 1),
    "seed": lambda d: d.update(seed=("0" if d["seed"][0] != "0" else "1") + d["seed"][1:]),
    "beacon value": lambda d: d.update(beacon_value="ab" * 32),
    "tier": lambda d: d["winners"][0].update(tier=d["winners"][-1]["tier"] + " (moved)"),
}


def test_both_implementations_find_each_difference(engine_cases, tmp_path) -> None:
    jobs, expected = [], {}
    for case in (c for c in engine_cases if c.name in ("beacon-and-secret", "recent-day-2")):
        for kind in ("private", "public"):
            source = getattr(case, kind)
            name = f"{case.name}/{kind}/changed entry"
            changed = _changed_participants(case, tmp_path / f"{case.name}-{kind}.csv")
            jobs.append({"name": name, "record": str(source), "participants": str(changed)})
            expected[name] = _python_verdict(source, changed)
            for label, edit in EDITS.items():
                name = f"{case.name}/{kind}/{label}"
                record = _edited(source, tmp_path / f"{case.name}-{kind}-{label}.json", edit)
                jobs.append({"name": name, "record": str(record),
                             "participants": str(case.participants_csv)})
                expected[name] = _python_verdict(record, case.participants_csv)
    results = run_node_cases(jobs, tmp_path)
    for name, (ok, fields) in expected.items():
        js = results[name]
        assert not ok and js["verdict"] == "MISMATCH", (name, fields, js["lines"])
        assert fields[0] in js["fields"], (name, fields, js["fields"])
        if name.endswith("changed entry"):
            assert js["fields"][0] == "cohort_digest", js["fields"]
            if "/private/" in name:
                assert any(f.startswith("participants[0") and f.endswith("].entries")
                           for f in js["fields"]), js["fields"]
        if name.endswith("created_at byte"):
            assert js["fields"] == ["record_hash"], js["lines"]
        assert not re.search(r"(\+?234|0)[789][01]\d{8}", " ".join(js["lines"])), js["lines"]


def test_the_page_checks_the_beacon_timing_that_verify_leaves_to_the_audit(tmp_path) -> None:
    """A round published long before the commitment: drawkit verify does not look at
    times (the audit notebook does); the page reports the commitment time."""
    from tests.verifier.conftest import config, frame, numbers, write_case

    people = numbers(40, 3)
    participants = frame(people, range(1, 41))
    cfg = config("timing promo", [("Grand", 1)], 1)
    from drawkit.draw import run_draw

    record = run_draw(participants, cfg, date(2026, 11, 24), ledger_dir=tmp_path / "l",
                      beacon=bytes(32), beacon_round=777, draw_id="timing-2026-11-24")
    case = write_case("timing", record, participants, tmp_path)
    assert _python_verdict(case.private, case.participants_csv)[0]
    js = run_node_cases([{"name": "t", "record": str(case.public),
                          "participants": str(case.participants_csv)}], tmp_path)["t"]
    assert js["fields"] == ["commitment.committed_at"], js["lines"]
    assert "could be known when the cohort was committed" in js["lines"][0]


# ------------------------------------------------------------------ beacon-signed records


def test_beacon_signed_records(tmp_path) -> None:
    from tests.verifier.conftest import QUICKNET_CHAIN, ROUND, SIGNATURE, signed_case

    flipped = SIGNATURE[:40] + format(int(SIGNATURE[40], 16) ^ 1, "x") + SIGNATURE[41:]
    local = dict(QUICKNET_CHAIN, hash="11" * 32)
    cases = {
        "valid": signed_case(tmp_path, "valid"),
        "forged": signed_case(tmp_path, "forged", signature=flipped),
        "late commitment": signed_case(tmp_path, "late", committed_before=30),
        "local chain": signed_case(tmp_path, "local", chain=local),
    }
    jobs = [{"name": n, "record": str(c.public), "participants": str(c.participants_csv)}
            for n, c in cases.items()]
    jobs.append({"name": "local accepted", "record": str(cases["local chain"].public),
                 "participants": str(cases["local chain"].participants_csv),
                 "accept_local_chain": True})
    results = run_node_cases(jobs, tmp_path)
    valid = results["valid"]
    assert valid["verdict"] == "MATCH", valid["lines"]
    assert ["Beacon signature", "match"] in valid["checks"]
    assert ["Beacon timing", "match"] in valid["checks"]
    assert results["forged"]["fields"][:2] == ["beacon_signature", "beacon_value"]
    assert f"round {ROUND}" in results["forged"]["lines"][0]
    assert results["late commitment"]["fields"] == ["commitment.committed_at"]
    assert results["local chain"]["fields"] == ["beacon_chain"]
    accepted = results["local accepted"]
    assert accepted["verdict"] == "MATCH" and ["Beacon chain", "note"] in accepted["checks"]


def test_records_of_today_say_they_carry_no_beacon_signature(engine_cases, tmp_path) -> None:
    case = next(c for c in engine_cases if c.name == "beacon-and-secret")
    js = run_node_cases([{"name": "t", "record": str(case.public)}], tmp_path)["t"]
    assert "Beacon signature" in js["not_checked"]
    assert ["Beacon timing", "match"] in js["checks"]
