/* drawkit verifier: the drand beacon. A round's signature is checked against the chain's
 * key with the vendored, audited BLS12-381 library (vendor/noble-bls12-381.js); the
 * round's randomness is SHA-256 of the signature; the chain must be the pinned quicknet
 * unless the user accepts a local test chain. Spec 3.2 and 11.7. */
(function (dv) {
  "use strict";
  const { hexToBytes, sha256, u64be, bytesToHex } = dv.core;

  const QUICKNET = Object.freeze({
    hash: "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    publicKey:
      "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
    genesisTime: 1692803367,
    period: 3,
    scheme: "bls-unchained-g1-rfc9380",
  });
  const DST = "BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";
  const COMMIT_MARGIN_SECONDS = 60;

  function bls() {
    const lib = globalThis.nobleBls12381;
    if (!lib || !lib.bls12_381) throw new Error("the BLS12-381 library (vendor/noble-bls12-381.js) did not load");
    return lib.bls12_381;
  }

  /** True when `signatureHex` is the chain key's signature of `round` (unchained, G1). */
  async function verifyRound(publicKeyHex, round, signatureHex) {
    const curve = bls();
    const message = await sha256(u64be(BigInt(round)));
    const sigs = curve.shortSignatures;
    try {
      const signature = sigs.Signature.fromBytes(hexToBytes(signatureHex, "beacon_signature"));
      const key = curve.G2.Point.fromBytes(hexToBytes(publicKeyHex, "beacon_chain.public_key"));
      return sigs.verify(signature, sigs.hash(message, DST), key);
    } catch (err) {
      if (err instanceof dv.FormatError) throw err;
      return false; // not a point of the curve or of its subgroup: not a valid signature
    }
  }

  async function randomnessOf(signatureHex) {
    return bytesToHex(await sha256(hexToBytes(signatureHex, "beacon_signature")));
  }

  function sameChain(chain, pinned) {
    return ["hash", "publicKey", "genesisTime", "period", "scheme"].filter((k) => chain[k] !== pinned[k]);
  }

  /** Publication time of a round, in microseconds since the epoch (BigInt). */
  function roundMicros(chain, round) {
    return (BigInt(chain.genesisTime) + BigInt(round - 1) * BigInt(chain.period)) * 1000000n;
  }

  dv.beacon = { QUICKNET, DST, COMMIT_MARGIN_SECONDS, verifyRound, randomnessOf, sameChain, roundMicros };
})((globalThis.DrawkitVerifier = globalThis.DrawkitVerifier || {}));
