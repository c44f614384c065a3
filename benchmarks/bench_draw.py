"""Draw engine at scale: selection and canonical cohort over 10 million participants.

Figures (each side measured in its own fresh process via run_isolated):

1. ``draw.select``: :func:`drawkit.draw.select` — integer block sums plus 200 picks
   (100 winners + 100 reserves) from a fresh HMAC_DRBG, i.e. the core of ``run_draw``
   without cohort building and ledger I/O — against numpy's
   ``Generator.choice(n, size=200, replace=False, p=entries / W)`` (the float baseline the
   spec replaces; its p is computed inside the timing, as select computes its sums).
   Target: time ratio <= 0.25. Peak memory of the select process: target < 2 GiB.
2. ``draw.cohort``: :func:`drawkit.draw.canonical_cohort` — validate, sort by E.164, SHA-256
   digest — on shuffled input (a participants frame of Python strings), against the
   honest floor: a numpy sort of the int64 national numbers plus the canonical lines built
   by Arrow and streamed into SHA-256 (its input prepared outside the timing; same digest,
   checked). Target: time ratio <= 2.0, peak memory < 2 GiB.
3. ``draw.read_cohort_select``: what ``drawkit draw`` does before the ledger: read a
   participants.csv of 10 M rows (:func:`drawkit.sources.local.read_participants`, the
   contract checked), the canonical cohort and select; against the same sort + SHA-256
   floor. Target: ratio <= 2.0.

Entries are heavy-tailed: ``floor(Pareto(a=1.2)) + 1``, capped at 100,000 per participant.
Full size 10,000,000 participants; ``quick``: 200,000.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, Figure, run_isolated, timed  # noqa: E402

FULL = 10_000_000
QUICK = 200_000
PICKS = 200  # 100 winners + 100 reserves
SEED = bytes.fromhex("d7" * 32)


def heavy_tailed_entries(n: int, seed: int = 20261124) -> np.ndarray:
    """Entries per participant: floor(Pareto(1.2)) + 1, capped at 100,000 (int64)."""
    rng = np.random.default_rng(seed)
    entries = np.floor(rng.pareto(1.2, n)).astype(np.int64) + 1
    np.minimum(entries, 100_000, out=entries)
    return entries


def shuffled_participants(n: int, seed: int = 7):
    """A participants frame of ``n`` distinct E.164 numbers in random order."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    national = np.arange(n, dtype=np.int64) * 99 + rng.integers(0, 99, n)  # distinct, < 1e9
    rng.shuffle(national)
    text = np.char.add("+2348", np.char.zfill(national.astype("U9"), 9))
    frame = pd.DataFrame({"msisdn": text.astype(object), "entries": heavy_tailed_entries(n)})
    del text, national
    return frame


# ------------------------------------------------------------------ children


def _select_child(n: int) -> dict:
    from drawkit.draw import select
    from drawkit.draw.rng import drbg_for_seed

    entries = heavy_tailed_entries(n)
    seconds, picks = timed(lambda: select(entries, PICKS, drbg_for_seed(SEED)), repeat=3)
    return {"seconds": seconds, "picks": len({p.index for p in picks}), "W": int(entries.sum())}


def _numpy_choice_child(n: int) -> dict:
    entries = heavy_tailed_entries(n)

    def choose() -> np.ndarray:
        rng = np.random.default_rng(20261124)
        return rng.choice(n, size=PICKS, replace=False, p=entries / entries.sum())

    seconds, chosen = timed(choose, repeat=3)
    return {"seconds": seconds, "picks": len(set(chosen.tolist()))}


def _cohort_child(n: int) -> dict:
    from drawkit.draw import canonical_cohort

    frame = shuffled_participants(n)
    seconds, cohort = timed(lambda: canonical_cohort(frame))
    return {"seconds": seconds, "digest": cohort.digest, "participants": len(cohort)}


def _sort_sha_child(n: int) -> dict:
    """The floor: numpy sort of int64 national numbers, lines by Arrow, streamed SHA-256."""
    import pyarrow as pa
    import pyarrow.compute as pc

    frame = shuffled_participants(n)
    national = np.asarray(
        pc.utf8_slice_codeunits(pa.array(frame["msisdn"].to_numpy()), 4).cast(pa.int64())
    )
    entries = frame["entries"].to_numpy()
    del frame

    def digest() -> str:
        order = np.argsort(national, kind="stable")
        nat, ent = national[order], entries[order]
        sha = hashlib.sha256()
        for start in range(0, n, 1 << 20):
            digits = pa.array(nat[start : start + (1 << 20)]).cast(pa.string())
            counts = pa.array(ent[start : start + (1 << 20)]).cast(pa.string())
            lines = pc.binary_join_element_wise("+234", digits, ",", counts, "\n", "")
            sha.update(lines.buffers()[2].to_pybytes())
        return sha.hexdigest()

    seconds, value = timed(digest)
    return {"seconds": seconds, "digest": value}


def _write_participants_child(n: int, folder: str) -> dict:
    from drawkit.draw import canonical_cohort
    from drawkit.sources.local import write_participants

    frame = shuffled_participants(n)
    cohort = canonical_cohort(frame)
    sorted_frame = cohort.to_frame()
    sorted_frame.insert(1, "points", sorted_frame["entries"])
    import pandas as pd

    write_participants(sorted_frame, pd.DataFrame(columns=["reason"]), folder)
    return {"digest": cohort.digest}


def _read_cohort_select_child(folder: str) -> dict:
    from drawkit.draw import canonical_cohort, select
    from drawkit.draw.rng import drbg_for_seed
    from drawkit.sources.local import read_participants

    def draw() -> tuple[str, int]:
        participants = read_participants(Path(folder) / "participants.csv")
        cohort = canonical_cohort(participants)
        picks = select(cohort.entries, PICKS, drbg_for_seed(SEED))
        return cohort.digest, len(picks)

    seconds, (digest, picks) = timed(draw)
    return {"seconds": seconds, "digest": digest, "picks": picks}


# ------------------------------------------------------------------ figures


def _pair(
    name: str, mine: dict, base: dict, n: int, what: str, baseline: str, limit: float = 1.0
) -> list[Figure]:
    ratio = mine["seconds"] / base["seconds"]
    peak = mine["peak_rss_bytes"] / GIB
    return [
        Figure(
            name=f"{name}.time_ratio",
            value=mine["seconds"],
            unit="s",
            baseline=base["seconds"],
            ratio=ratio,
            target=f"ratio <= {limit:g}",
            ok=ratio <= limit,
            note=f"{n:,} participants; {what} vs {baseline}",
        ),
        Figure(
            name=f"{name}.peak_memory",
            value=peak,
            unit="GiB",
            baseline=base["peak_rss_bytes"] / GIB,
            ratio=peak / (base["peak_rss_bytes"] / GIB),
            target="< 2 GiB",
            ok=peak < 2.0,
            note=f"peak RSS of the measuring process (input included); baseline: {baseline}",
        ),
    ]


def _registered():
    """This module as imported by name: spawned children unpickle functions by module name,
    and benchmarks/run.py loads bench files without registering them in sys.modules."""
    return importlib.import_module(Path(__file__).stem)


def run(quick: bool) -> list[Figure]:
    """Measure select vs numpy choice, and canonical_cohort vs pandas, at one size."""
    n = QUICK if quick else FULL
    me = _registered()
    mine = run_isolated(me._select_child, n)
    base = run_isolated(me._numpy_choice_child, n)
    if mine["picks"] != PICKS or base["picks"] != PICKS:
        raise RuntimeError(f"expected {PICKS} distinct picks, got {mine['picks']}/{base['picks']}")
    figures = _pair(
        "draw.select",
        mine,
        base,
        n,
        f"select(): block sums + {PICKS} picks, W={mine['W']:,}",
        "numpy Generator.choice(replace=False, p=entries/W)",
        limit=0.25,
    )
    cohort = run_isolated(me._cohort_child, n)
    floor = run_isolated(me._sort_sha_child, n)
    if cohort["digest"] != floor["digest"]:
        raise RuntimeError("canonical_cohort and the sort + SHA-256 baseline disagree")
    figures += _pair(
        "draw.cohort",
        cohort,
        floor,
        n,
        "canonical_cohort(): validate, sort, SHA-256 digest of shuffled input",
        "numpy sort of int64 numbers + Arrow lines + streamed SHA-256",
        limit=2.0,
    )
    with tempfile.TemporaryDirectory(prefix="drawkit-bench-draw-") as folder:
        written = run_isolated(me._write_participants_child, n, folder)
        drawn = run_isolated(me._read_cohort_select_child, folder)
    if drawn["digest"] != written["digest"] or drawn["picks"] != PICKS:
        raise RuntimeError("reading participants.csv back changed the cohort")
    figures += _pair(
        "draw.read_cohort_select",
        drawn,
        floor,
        n,
        "read_participants(participants.csv) + canonical_cohort + select",
        "numpy sort + Arrow lines + streamed SHA-256",
        limit=2.0,
    )
    return figures
