// The test vectors of docs/draw-spec.md (section 10), read from the markdown itself, against
// the page's implementation: the Python engine reads the same blocks (tests/test_draw_spec.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { dv, specBlocks, csvOf, hex } from "./load.mjs";

const vectors = specBlocks("vector");
const draws = vectors.filter((v) => v.participants);

test("the spec has five vectors, three of them draws", () => {
  assert.equal(vectors.length, 5);
  assert.equal(draws.length, 3);
});

for (const v of draws) {
  const beacon = v.beacon === null ? null : hex(v.beacon);
  const secret = v.secret === null ? null : hex(v.secret);

  test(`${v.vector}: canonical lines, digest and total`, async () => {
    const parsed = await dv.cohort.readParticipants(csvOf(v.participants));
    const cohort = await dv.cohort.canonicalCohort(parsed, new Set());
    assert.deepEqual(cohort.lines().split("\n").slice(0, -1), v.canonical_lines);
    assert.equal(cohort.digest, v.cohort_digest);
    assert.equal(cohort.total, v.total_entries);
  });

  test(`${v.vector}: seed material, seed and first words`, async () => {
    const material = dv.draw.seedMaterial(v.draw_id, v.cohort_digest, beacon, secret);
    assert.equal(dv.core.bytesToHex(material), v.seed_material);
    const seed = await dv.draw.deriveSeed(v.draw_id, v.cohort_digest, beacon, secret);
    assert.equal(dv.core.bytesToHex(seed), v.seed);
    assert.deepEqual(await dv.draw.firstWords(seed, v.first_words.length), v.first_words);
  });

  test(`${v.vector}: every pick, with the words it consumed`, async () => {
    const parsed = await dv.cohort.readParticipants(csvOf(v.participants));
    const cohort = await dv.cohort.canonicalCohort(parsed, new Set());
    const prizes = v.prizes.map((p) => ({ name: p.name, count: Number(p.count), reserves: Number(p.reserves) }));
    const { picks, refused } = await dv.draw.drawPicks(cohort, prizes, hex(v.seed), false);
    assert.equal(refused, null);
    const got = picks.map((p, i) => ({
      draw_order: BigInt(i + 1), tier: p.slot.tier, role: p.slot.role, position: BigInt(p.slot.position),
      tickets_in_play: p.total, words: p.words.map((w) => w.toString(16).padStart(16, "0")),
      ticket: p.ticket, msisdn: dv.cohort.e164(cohort.national(p.index)), entries: p.entries,
    }));
    const want = v.picks.map((p) => Object.assign({}, p));
    assert.deepEqual(got, want);
  });
}

test("rejection sampling vector", async () => {
  const [v] = vectors.filter((x) => x.vector === "rejection sampling");
  assert.equal(v.limit, (1n << 64n) - ((1n << 64n) % v.n));
  const raw = await dv.draw.HmacDrbg.create(hex(v.seed));
  for (const row of v.words) {
    const word = await raw.word();
    assert.equal(word.toString(16).padStart(16, "0"), row.word);
    assert.equal(word < v.limit, row.accepted);
  }
  const drbg = await dv.draw.HmacDrbg.create(hex(v.seed));
  const accepted = v.words.filter((r) => r.accepted);
  let consumed = 0;
  for (const row of accepted) {
    const { value, words } = await dv.draw.uniformBelow(drbg, v.n);
    assert.equal(value, row.value);
    consumed += words.length;
    assert.equal(words[words.length - 1].toString(16).padStart(16, "0"), row.word);
  }
  assert.equal(consumed, v.words.findLastIndex((r) => r.accepted) + 1);
});

test("ledger entry hash vector", async () => {
  const [v] = vectors.filter((x) => x.vector === "ledger entry hash");
  const body = Object.assign(Object.create(null), v.entry);
  delete body.record_hash;
  assert.equal(dv.core.canonicalJson(body), v.canonical_json);
  assert.equal(await dv.core.entryHash(v.entry), v.entry.record_hash);
});
