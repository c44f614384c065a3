"""The draw's random source: NIST SP 800-90A HMAC_DRBG with SHA-256, and its seed.

HMAC_DRBG is a pure function of its seed material, so anyone holding the published seed
regenerates the same stream in any language. It is short enough to implement here from
the standard library (``hmac``, ``hashlib``) and is checked against NIST CAVP vectors.
"""

from __future__ import annotations

import hashlib
import hmac

from drawkit.errors import DrawError

SPEC_VERSION = "drawkit-draw/1"
"""Version tag hashed into every seed; bump it whenever the algorithm changes."""

WORD_BYTES = 8
WORD_SPACE = 1 << 64
MAX_BELOW = 1 << 63
_OUTLEN = 32  # SHA-256 output length in bytes
_MAX_REQUEST_BYTES = 1 << 16  # SP 800-90A Table 2: at most 2^19 bits per request
_RESEED_INTERVAL = 1 << 48


class HmacDrbg:
    """NIST SP 800-90A Rev. 1 HMAC_DRBG (SHA-256), no prediction resistance.

    The draw instantiates it with ``entropy_input = seed`` (32 bytes) and an empty nonce
    and personalization string, then reads one 64-bit big-endian word per ``generate``
    call of 8 bytes.
    """

    def __init__(
        self, entropy_input: bytes, nonce: bytes = b"", personalization: bytes = b""
    ) -> None:
        self._key = b"\x00" * _OUTLEN
        self._value = b"\x01" * _OUTLEN
        self._update(entropy_input + nonce + personalization)
        self._reseed_counter = 1
        self.words_drawn = 0

    def _hmac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def _update(self, provided: bytes = b"") -> None:
        self._key = self._hmac(self._value + b"\x00" + provided)
        self._value = self._hmac(self._value)
        if provided:
            self._key = self._hmac(self._value + b"\x01" + provided)
            self._value = self._hmac(self._value)

    def reseed(self, entropy_input: bytes, additional_input: bytes = b"") -> None:
        """SP 800-90A 10.1.2.4 reseed (not used by draws; here for the NIST vectors)."""
        self._update(entropy_input + additional_input)
        self._reseed_counter = 1

    def generate(self, num_bytes: int, additional_input: bytes = b"") -> bytes:
        """SP 800-90A 10.1.2.5: ``num_bytes`` pseudorandom bytes."""
        if not 0 < num_bytes <= _MAX_REQUEST_BYTES:
            raise DrawError(f"HMAC_DRBG request of {num_bytes} bytes is out of range")
        if self._reseed_counter > _RESEED_INTERVAL:
            raise DrawError("HMAC_DRBG reseed interval exhausted")
        if additional_input:
            self._update(additional_input)
        out = bytearray()
        while len(out) < num_bytes:
            self._value = self._hmac(self._value)
            out += self._value
        self._update(additional_input)
        self._reseed_counter += 1
        return bytes(out[:num_bytes])

    def next_word(self) -> int:
        """The next 64-bit word: one 8-byte ``generate`` call, read big-endian."""
        self.words_drawn += 1
        return int.from_bytes(self.generate(WORD_BYTES), "big")

    def words(self, n: int) -> list[int]:
        """The next ``n`` 64-bit words."""
        return [self.next_word() for _ in range(n)]

    def next_below(self, n: int) -> int:
        """Uniform integer in ``[0, n)`` by rejection sampling (no modulo bias)."""
        return self.next_below_counted(n)[0]

    def next_below_counted(self, n: int) -> tuple[int, int]:
        """Uniform integer in ``[0, n)`` and how many words it took (1 + rejections).

        A word ``x`` is accepted when ``x < 2**64 - (2**64 mod n)``; the answer is then
        ``x mod n``, so every value in ``[0, n)`` has the same number of accepted words.
        """
        if not 1 <= n <= MAX_BELOW:
            raise DrawError(f"cannot draw below {n}: the bound must be in [1, 2**63]")
        limit = WORD_SPACE - (WORD_SPACE % n)
        attempts = 0
        while True:
            attempts += 1
            word = self.next_word()
            if word < limit:
                return word % n, attempts


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _optional(data: bytes | None) -> bytes:
    return b"\x00" if data is None else b"\x01" + _field(data)


def seed_material(
    *, draw_id: str, cohort_digest: str, beacon: bytes | None, secret: bytes | None
) -> bytes:
    """The canonical byte string hashed into the seed (see docs/draw-spec.md, 'Seed')."""
    try:
        digest = bytes.fromhex(cohort_digest)
    except ValueError as exc:
        raise DrawError(f"cohort digest {cohort_digest!r} is not hexadecimal") from exc
    if len(digest) != 32:
        raise DrawError(f"cohort digest must be 32 bytes (64 hex digits), got {len(digest)}")
    return (
        _field(SPEC_VERSION.encode("ascii"))
        + _field(draw_id.encode("utf-8"))
        + _field(digest)
        + _optional(beacon)
        + _optional(secret)
    )


def derive_seed(
    *, draw_id: str, cohort_digest: str, beacon: bytes | None, secret: bytes | None
) -> bytes:
    """SHA-256 over the version tag, draw id, cohort digest, beacon and secret."""
    material = seed_material(
        draw_id=draw_id, cohort_digest=cohort_digest, beacon=beacon, secret=secret
    )
    return hashlib.sha256(material).digest()


def drbg_for_seed(seed: bytes) -> HmacDrbg:
    """The draw's generator: HMAC_DRBG instantiated with the seed as entropy input."""
    if len(seed) != 32:
        raise DrawError(f"a draw seed is 32 bytes, got {len(seed)}")
    return HmacDrbg(seed)


def commitment_of(secret: bytes) -> str:
    """SHA-256 commitment (hex) of an operator secret, published before the draw."""
    return hashlib.sha256(secret).hexdigest()
