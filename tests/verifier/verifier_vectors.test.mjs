// The verifier vectors of docs/draw-spec.md section 11 (participants file, masks, quicknet
// rounds) against the page's code; tests/verifier/test_verifier.py runs them on Python's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dv, specBlocks } from "./load.mjs";

const vectors = Object.fromEntries(specBlocks("verifier-vector").map((v) => [v.vector, v]));

test("the spec has the three verifier vectors", () => {
  assert.deepEqual(Object.keys(vectors).sort(), ["masks", "participants file", "quicknet rounds"]);
});

test("participants file: BOM, CRLF, quotes, spellings, a blank line and an extra column", async () => {
  const v = vectors["participants file"];
  const parsed = await dv.cohort.readParticipants(v.csv);
  const cohort = await dv.cohort.canonicalCohort(parsed, new Set());
  assert.deepEqual(cohort.lines().split("\n").slice(0, -1), v.canonical_lines);
  assert.equal(cohort.digest, v.cohort_digest);
  assert.equal(cohort.total, v.total_entries);
});

test("participants file: every refused file is refused, naming no full number", async () => {
  for (const { csv, because } of vectors["participants file"].refused) {
    await assert.rejects(async () => {
      const parsed = await dv.cohort.readParticipants(csv);
      await dv.cohort.canonicalCohort(parsed, new Set());
    }, (err) => {
      assert.ok(err instanceof dv.FormatError, because);
      assert.doesNotMatch(err.message, /(\+?234|0)[789][01]\d{8}/, because);
      return true;
    }, because);
  }
});

test("masks", () => {
  for (const [written, masked] of vectors.masks.masks) assert.equal(dv.cohort.maskOf(written), masked, written);
});

test("quicknet rounds: both verify, randomness is SHA-256 of the signature", async () => {
  const v = vectors["quicknet rounds"];
  assert.equal(v.chain_hash, dv.beacon.QUICKNET.hash);
  assert.equal(v.public_key, dv.beacon.QUICKNET.publicKey);
  for (const r of v.rounds) {
    assert.equal(await dv.beacon.verifyRound(v.public_key, Number(r.round), r.signature), true, `round ${r.round}`);
    assert.equal(await dv.beacon.randomnessOf(r.signature), r.randomness);
  }
});

test("quicknet rounds: round + 1, a flipped bit and another round's signature fail", async () => {
  const v = vectors["quicknet rounds"];
  const [a, b] = v.rounds;
  assert.equal(await dv.beacon.verifyRound(v.public_key, Number(a.round) + 1, a.signature), false);
  assert.equal(await dv.beacon.verifyRound(v.public_key, Number(b.round), a.signature), false);
  for (const position of [0, 17, 95]) {
    const bytes = dv.core.hexToBytes(b.signature, "t");
    bytes[Math.floor(position / 2)] ^= position % 2 ? 0x01 : 0x10;
    const flipped = dv.core.bytesToHex(bytes);
    assert.equal(await dv.beacon.verifyRound(v.public_key, Number(b.round), flipped), false, `bit at ${position}`);
  }
});
