"""The draw engine: canonical cohort, seeded HMAC_DRBG, integer weighted sampling,
hash-chained ledger, verification. The algorithm is specified in docs/draw-spec.md.

Names are loaded on first use, so importing one module of the package imports only what
that module needs.
"""

from __future__ import annotations

from drawkit.lazy import lazy_exports

_EXPORTS = {
    "Cohort": "cohort",
    "canonical_cohort": "cohort",
    "cohort_digest": "cohort",
    "commit_draw": "engine",
    "default_draw_id": "engine",
    "run_draw": "engine",
    "Standing": "events",
    "published_events": "events",
    "record_event": "events",
    "standing": "events",
    "write_winners_export": "export",
    "ChainReport": "ledger",
    "Ledger": "ledger",
    "publish": "publishing",
    "BeaconChain": "record",
    "BeaconEvidence": "record",
    "Commitment": "record",
    "DrawRecord": "record",
    "Prize": "record",
    "Shortfall": "record",
    "Winner": "record",
    "SPEC_VERSION": "rng",
    "HmacDrbg": "rng",
    "derive_seed": "rng",
    "Pick": "sampling",
    "select": "sampling",
    "Difference": "verify",
    "VerificationReport": "verify",
    "verify_record": "verify",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
