"""The draw engine: canonical cohort, seeded HMAC_DRBG, integer weighted sampling,
hash-chained ledger, verification. The algorithm is specified in docs/draw-spec.md."""

from drawkit.draw.cohort import Cohort, canonical_cohort, cohort_digest
from drawkit.draw.engine import commit_draw, default_draw_id, run_draw
from drawkit.draw.events import Standing, record_event, standing
from drawkit.draw.export import write_winners_export
from drawkit.draw.ledger import ChainReport, Ledger
from drawkit.draw.publish import publish
from drawkit.draw.record import Commitment, DrawRecord, Prize, Shortfall, Winner
from drawkit.draw.rng import SPEC_VERSION, HmacDrbg, derive_seed
from drawkit.draw.select import Pick, select
from drawkit.draw.verify import Difference, VerificationReport, verify_record

__all__ = [
    "SPEC_VERSION",
    "ChainReport",
    "Cohort",
    "Commitment",
    "Difference",
    "DrawRecord",
    "HmacDrbg",
    "Ledger",
    "Pick",
    "Prize",
    "Shortfall",
    "Standing",
    "VerificationReport",
    "Winner",
    "canonical_cohort",
    "cohort_digest",
    "commit_draw",
    "default_draw_id",
    "derive_seed",
    "publish",
    "record_event",
    "run_draw",
    "select",
    "standing",
    "verify_record",
    "write_winners_export",
]
