"""drand round verification: pyblst (blst) against py-ecc (pure Python), in the same run.

Figures (each side measured in its own fresh process via run_isolated):

1. ``beacon verify``: :func:`drawkit.beacon.verify_round` on the two real quicknet rounds of
   docs/beacon.md (signature decompression with subgroup check, RFC 9380 hash to G1, two
   Miller loops and a final exponentiation; the chain key is decompressed once), against
   the same check written with py-ecc (decompression, subgroup check by multiplying by the
   group order, ``hash_to_G1``, two pairings). Both must accept the real rounds (and, in a
   full run, reject round + 1). Target: under 10 ms a round.
2. ``beacon fetch``: :meth:`DrandClient.round` over loopback against the local test chain
   (HTTP request, JSON, verification), against ``verify_round`` alone on the same rounds.

py-ecc is in the ``test`` extra; without it the first figure has no baseline and says so.
``quick``: 200 pyblst verifications and 1 py-ecc verification; full: 2,000 and 4.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, run_isolated  # noqa: E402

ROUNDS = {
    123: "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486"
    "d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92",
    12040883: "929906c959032ab363c9f26570d215d66f5c06cb0c44fe50"
    "8c12bb5839f04ec895bb6868e5b9ff13ab289bdb5266b394",
}
PY_ECC_MISSING = "py-ecc not installed (pip install -e '.[test]'): no baseline"


def _pyblst_child(n: int) -> dict:
    from drawkit.beacon import QUICKNET, verify_round
    from drawkit.errors import BeaconNotAuthenticError

    items = list(ROUNDS.items())
    verify_round(QUICKNET, *items[0])  # warm: the chain key is decompressed once
    started = time.perf_counter()
    for i in range(n):
        verify_round(QUICKNET, *items[i % len(items)])
    seconds = time.perf_counter() - started
    for number, signature in items:
        try:
            verify_round(QUICKNET, number + 1, signature)
        except BeaconNotAuthenticError:
            continue
        raise RuntimeError(f"pyblst accepted round {number}'s signature for round {number + 1}")
    return {"per_round": seconds / n, "n": n}


def _py_ecc_verify(key, number: int, signature: bytes) -> bool:
    from py_ecc.bls.hash_to_curve import hash_to_G1
    from py_ecc.bls.point_compression import decompress_G1
    from py_ecc.optimized_bls12_381 import G2, curve_order, is_inf, multiply, pairing

    point = decompress_G1(int.from_bytes(signature, "big"))
    if is_inf(point) or not is_inf(multiply(point, curve_order)):
        return False
    message = hashlib.sha256(number.to_bytes(8, "big")).digest()
    hashed = hash_to_G1(message, b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_", hashlib.sha256)
    return pairing(G2, point) == pairing(key, hashed)


def _py_ecc_child(n: int, check_wrong_round: bool) -> dict:
    try:
        from py_ecc.bls.point_compression import decompress_G2
        from py_ecc.optimized_bls12_381 import curve_order, is_inf, multiply
    except ImportError:
        return {"skipped": PY_ECC_MISSING}
    from drawkit.beacon import QUICKNET

    raw = QUICKNET.public_key
    key = decompress_G2((int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")))
    if not is_inf(multiply(key, curve_order)):
        raise RuntimeError("py-ecc: the quicknet key is not in G2")
    items = [(number, bytes.fromhex(sig)) for number, sig in ROUNDS.items()]
    started = time.perf_counter()
    for i in range(n):
        number, signature = items[i % len(items)]
        if not _py_ecc_verify(key, number, signature):
            raise RuntimeError(f"py-ecc rejected real quicknet round {number}")
    seconds = time.perf_counter() - started
    if check_wrong_round and _py_ecc_verify(key, items[0][0] + 1, items[0][1]):
        raise RuntimeError("py-ecc accepted a signature for the wrong round")
    return {"per_round": seconds / n, "n": n}


def _fetch_child(n: int) -> dict:
    from drawkit.beacon import ChainInfo, DrandClient, verify_round
    from drawkit.offline.drand_chain import LocalDrandChain

    with LocalDrandChain(period=1, genesis_time=int(time.time()) - n - 5) as chain:
        info = ChainInfo.from_json(chain.info())
        client = DrandClient([chain.url], info, timeout=5)
        signatures = {r: chain.sign(r) for r in range(1, n + 1)}  # the server's cache, warm
        client.round(1)  # warm: connection and key
        started = time.perf_counter()
        for r in range(1, n + 1):
            client.round(r)
        fetch = time.perf_counter() - started
    started = time.perf_counter()
    for r in range(1, n + 1):
        verify_round(info, r, signatures[r])
    alone = time.perf_counter() - started
    return {"fetch": fetch / n, "verify": alone / n, "n": n}


def run(quick: bool) -> list[Figure]:
    """Measure BLS verification with pyblst vs py-ecc, and a fetch over loopback."""
    me = importlib.import_module(Path(__file__).stem)  # picklable for the spawned children
    mine = run_isolated(me._pyblst_child, 200 if quick else 2_000)
    base = run_isolated(me._py_ecc_child, 1 if quick else 4, not quick)
    fetch = run_isolated(me._fetch_child, 50 if quick else 300)
    value = mine["per_round"] * 1000
    if "skipped" in base:
        baseline, ratio, note = None, None, base["skipped"]
    else:
        baseline = base["per_round"] * 1000
        ratio = value / baseline
        note = (f"{mine['n']:,} pyblst vs {base['n']} py-ecc verifications of real quicknet "
                "rounds; baseline = py-ecc")  # fmt: skip
    return [
        Figure("beacon verify_round (pyblst vs py-ecc)", value, "ms", baseline, ratio,
               target="< 10 ms", ok=value < 10, note=note),
        Figure("beacon DrandClient.round over loopback", fetch["fetch"] * 1000, "ms",
               fetch["verify"] * 1000, fetch["fetch"] / fetch["verify"],
               note=f"{fetch['n']} rounds from the local test chain; baseline = "
                    "verify_round alone"),
    ]  # fmt: skip
