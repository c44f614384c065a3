// Units of the page's code where JavaScript differs from Python: exact integers, canonical
// JSON (code point order, escapes), strict hex, streamed CSV across chunk boundaries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dv, csvOf } from "./load.mjs";

const { core, cohort } = dv;

test("JSON integers beyond 2^53 stay exact; fractions and exponents are refused", () => {
  const v = core.parseJson('{"a": 9007199254740993, "b": [-0, 18446744073709551615]}');
  assert.equal(v.a, 9007199254740993n);
  assert.equal(core.canonicalJson(v), '{"a":9007199254740993,"b":[0,18446744073709551615]}');
  assert.throws(() => core.parseJson('{"a": 1.5}'), /fraction or an exponent/);
  assert.throws(() => core.parseJson('{"a": 1e3}'), /fraction or an exponent/);
});

test("canonical JSON sorts keys by code point, not UTF-16 unit, and escapes like Python", () => {
  const obj = core.parseJson('{"\\ud83d\\ude00": 1, "\\uff61": 2, "b": 3, "a\\u0001\\"\\\\\\n": 4, "\\u2028": 5}');
  // U+FF61 sorts before U+1F600 by code point (UTF-16 would put the surrogates first)
  assert.equal(core.canonicalJson(obj), '{"a\\u0001\\"\\\\\\n":4,"b":3,"\u2028":5,"\uff61":2,"\ud83d\ude00":1}');
});

test("a key repeated keeps its last value; __proto__ is an ordinary key", () => {
  const v = core.parseJson('{"k": 1, "k": 2, "__proto__": 3}');
  assert.equal(v.k, 2n);
  assert.equal(core.canonicalJson(v), '{"__proto__":3,"k":2}');
});

test("hex is lowercase, even and nothing else", () => {
  assert.deepEqual([...core.hexToBytes("00ff", "f")], [0, 255]);
  for (const bad of ["0xff", "FF", "a", "ab cd", "zz"]) assert.throws(() => core.hexToBytes(bad, "seed"), /seed: must be lowercase/);
});

test("ISO times with offsets and microseconds compare as instants", () => {
  const a = core.isoMicros("2026-11-24T08:00:00.000001+00:00", "t");
  const b = core.isoMicros("2026-11-24T09:00:00.000001+01:00", "t");
  assert.equal(a, b);
  assert.equal(core.isoMicros("2026-11-24T08:00:00Z", "t") + 1n, a);
  assert.throws(() => core.isoMicros("2026-11-24 08:00", "created_at"), /created_at/);
});

test("a CSV streamed in tiny chunks reads like one block (quotes across chunks)", async () => {
  const text = 'msisdn,entries,note\n"+2348031234567",3,"a, ""quoted"" note"\r\n08021234511,2,x\n';
  const bytes = core.utf8(text);
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
      controller.close();
    },
  });
  const parsed = await cohort.readParticipants(stream);
  assert.deepEqual([...parsed.national], [8031234567, 8021234511]);
  assert.deepEqual([parsed.entries.at(0), parsed.entries.at(1)], [3, 2]);
});

test("entries above 2^53 are read exactly and summed exactly", async () => {
  const parsed = await cohort.readParticipants(csvOf([["+2348031234567", "9007199254740993"], ["+2348031234568", "7"]]));
  const c = await cohort.canonicalCohort(parsed, new Set());
  assert.equal(c.total, 9007199254741000n);
  assert.equal(c.lines(), "+2348031234567,9007199254740993\n+2348031234568,7\n");
});

test("the canonical order is the numeric order of the national numbers", async () => {
  const rows = [["+2349000000000", 1], ["+2347000000001", 2], ["+2348000131072", 3], ["+2348000000000", 4], ["+2347000000000", 5]];
  const c = await cohort.canonicalCohort(await cohort.readParticipants(csvOf(rows)), new Set());
  const order = Array.from({ length: c.size }, (_, j) => cohort.e164(c.national(j)));
  assert.deepEqual(order, rows.map((r) => r[0]).sort());
  assert.equal(c.indexOf(8000131072), 3);
  assert.equal(c.indexOf(8000131073), -1);
});

test("the Fenwick tree finds each ticket's owner and skips removed participants", () => {
  const entries = [1n, 2n, 3n, 5n, 7n];
  const tree = new dv.draw.TicketTree((i) => entries[i], entries.length);
  const owners = Array.from({ length: 18 }, (_, r) => tree.owner(BigInt(r)));
  assert.deepEqual(owners, [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4]);
  tree.remove(3, 5n);
  const after = Array.from({ length: 13 }, (_, r) => tree.owner(BigInt(r)));
  assert.deepEqual(after, [0, 1, 1, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4]);
});

test("slots: winners tier by tier, then reserves round by round", () => {
  const s = dv.draw.slots([{ name: "A", count: 1, reserves: 2 }, { name: "B", count: 2, reserves: 1 }]);
  assert.deepEqual(s.map((x) => `${x.tier}-${x.role}-${x.position}`), ["A-winner-1", "B-winner-1", "B-winner-2", "A-reserve-1", "B-reserve-1", "A-reserve-2"]);
});
