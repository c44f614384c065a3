"""HMAC_DRBG against NIST CAVP known answers; seed derivation; rejection sampling."""

from __future__ import annotations

import hashlib

import pytest

from drawkit.draw.rng import (
    HmacDrbg,
    derive_seed,
    drbg_for_seed,
    seed_material,
)
from drawkit.errors import DrawError

# NIST CAVP HMAC_DRBG.rsp, [SHA-256] [PredictionResistance = False] no reseed,
# EntropyInputLen = 256, NonceLen = 128, ReturnedBitsLen = 1024: instantiate, generate
# 1024 bits twice, the second output is ReturnedBits.
CAVP = [
    (
        "ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488",
        "659ba96c601dc69fc902940805ec0ca8",
        "",
        "e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89"
        "d54fbb978a15b5c443c9ec21036d2460b6f73ebad0dc2aba6e624abf07745bc1"
        "07694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668"
        "961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8",
    ),
    (
        "79737479ba4e7642a221fcfd1b820b134e9e3540a35bb48ffae29c20f5418ea3",
        "3593259c092bef4129bc2c6c9e19f343",
        "",
        "cf5ad5984f9e43917aa9087380dac46e410ddc8a7731859c84e9d0f31bd43655"
        "b924159413e2293b17610f211e09f770f172b8fb693a35b85d3b9e5e63b1dc25"
        "2ac0e115002e9bedfb4b5b6fd43f33b8e0eafb2d072e1a6fee1f159df9b51e6c"
        "8da737e60d5032dd30544ec51558c6f080bdbdab1de8a939e961e06b5f1aca37",
    ),
    (  # with a personalization string
        "5cacc68165a2e2ee20812f35ec73a79dbf30fd475476ac0c44fc6174cdac2b55",
        "6f885496c1e63af620becd9e71ecb824",
        "e72dd8590d4ed5295515c35ed6199e9d211b8f069b3058caa6670b96ef1208d0",
        "f1012cf543f94533df27fedfbf58e5b79a3dc517a9c402bdbfc9a0c0f721f9d5"
        "3faf4aafdc4b8f7a1b580fcaa52338d4bd95f58966a243cdcd3f446ed4bc546d"
        "9f607b190dd69954450d16cd0e2d6437067d8b44d19a6af7a7cfa8794e5fbd72"
        "8e8fb2f2e8db5dd4ff1aa275f35886098e80ff844886060da8b1e7137846b23b",
    ),
]


@pytest.mark.parametrize(("entropy", "nonce", "personal", "expected"), CAVP)
def test_hmac_drbg_matches_nist_cavp(entropy, nonce, personal, expected) -> None:
    drbg = HmacDrbg(bytes.fromhex(entropy), bytes.fromhex(nonce), bytes.fromhex(personal))
    first = drbg.generate(128)
    second = drbg.generate(128)
    assert second.hex() == expected
    assert first != second


def test_words_are_big_endian_8_byte_generate_calls() -> None:
    seed = hashlib.sha256(b"words").digest()
    a, b = drbg_for_seed(seed), drbg_for_seed(seed)
    words = a.words(3)
    assert words == [int.from_bytes(b.generate(8), "big") for _ in range(3)]
    assert all(0 <= w < 2**64 for w in words)


class _Scripted:
    """Stands in for the DRBG's word source to test the rejection rule at its edge."""

    def __init__(self, words: list[int]) -> None:
        self.words = iter(words)
        self.words_drawn = 0

    def next_word(self) -> int:
        return next(self.words)


def test_rejection_sampling_rejects_the_top_partial_block() -> None:
    n = 3  # 2**64 mod 3 == 1, so the single top word 2**64 - 1 is rejected
    limit = 2**64 - (2**64 % n)
    source = _Scripted([limit, limit - 1])
    value, attempts = HmacDrbg.next_below_counted(source, n)  # type: ignore[arg-type]
    assert (value, attempts) == ((limit - 1) % n, 2)


def test_next_below_bounds() -> None:
    drbg = drbg_for_seed(b"\x00" * 32)
    assert all(drbg.next_below(1) == 0 for _ in range(5))
    with pytest.raises(DrawError, match="bound"):
        drbg.next_below(0)
    with pytest.raises(DrawError, match="bound"):
        drbg.next_below(2**63 + 1)


def test_seed_depends_on_every_input_and_on_absence() -> None:
    digest = "ab" * 32
    base = {"draw_id": "d1", "cohort_digest": digest, "beacon": b"b", "secret": b"s"}
    seeds = {derive_seed(**base)}
    for key, other in [
        ("draw_id", "d2"),
        ("cohort_digest", "cd" * 32),
        ("beacon", b"c"),
        ("secret", b"t"),
        ("beacon", None),
        ("secret", None),
        ("beacon", b""),
    ]:
        seeds.add(derive_seed(**{**base, key: other}))
    assert len(seeds) == 8
    # length prefixes keep field boundaries: moving a byte between fields changes the seed
    assert seed_material(draw_id="d", cohort_digest=digest, beacon=b"ab", secret=b"c") != (
        seed_material(draw_id="d", cohort_digest=digest, beacon=b"a", secret=b"bc")
    )


def test_seed_rejects_a_malformed_digest() -> None:
    with pytest.raises(DrawError, match="32 bytes"):
        derive_seed(draw_id="d", cohort_digest="abcd", beacon=None, secret=b"s")
    with pytest.raises(DrawError, match="hexadecimal"):
        derive_seed(draw_id="d", cohort_digest="zz" * 32, beacon=None, secret=b"s")
