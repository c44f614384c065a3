/* drawkit verifier: seed (spec 3.3), HMAC_DRBG (4), rejection sampling (5), selection (6)
 * and prize order (7). Integers are BigInt wherever they can pass 2^53. */
(function (dv) {
  "use strict";
  const { utf8, concat, u32be, sha256, hmacSha256, hexToBytes, bytesToHex } = dv.core;

  const SPEC_VERSION = "drawkit-draw/1";
  const TWO_64 = 1n << 64n;
  const DRAW_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$/;

  function field(bytes) {
    return concat(u32be(bytes.length), bytes);
  }

  function optional(bytes) {
    return bytes === null ? new Uint8Array([0]) : concat(new Uint8Array([1]), field(bytes));
  }

  /** seed_material of section 3.3; beacon and secret are bytes or null (absent). */
  function seedMaterial(drawId, cohortDigestHex, beacon, secret) {
    if (!DRAW_ID.test(drawId)) {
      throw new dv.FormatError("draw_id", "must be 1 to 120 characters of A-Z a-z 0-9 . _ -, starting with a letter or a digit");
    }
    return concat(
      field(utf8(SPEC_VERSION)),
      field(utf8(drawId)),
      field(hexToBytes(cohortDigestHex, "cohort_digest")),
      optional(beacon),
      optional(secret),
    );
  }

  async function deriveSeed(drawId, cohortDigestHex, beacon, secret) {
    if (beacon === null && secret === null) {
      throw new dv.FormatError("seed", "a draw needs a beacon value, an operator secret, or both");
    }
    return sha256(seedMaterial(drawId, cohortDigestHex, beacon, secret));
  }

  /** The record's `randomness` words for which inputs went into the seed. */
  const QUICKNET_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";

  /** Where the seed's unpredictability comes from, in the record's words (spec 8.4). */
  function randomnessLabel(beacon, secret, chain) {
    if (beacon === null) return "operator-chosen randomness (no public beacon)";
    let source;
    if (chain === null || chain === undefined) source = "an unauthenticated beacon value (no signature)";
    else if (chain.hash === QUICKNET_HASH) source = "public beacon (drand quicknet)";
    else source = `local test chain — not public randomness (chain ${chain.hash.slice(0, 12)}…)`;
    return secret !== null ? `${source} and operator secret` : `${source} alone`;
  }

  /** HMAC_DRBG (SP 800-90A 10.1.2, SHA-256), instantiated with the seed alone. */
  class HmacDrbg {
    static async create(seed) {
      const drbg = new HmacDrbg();
      drbg.K = new Uint8Array(32);
      drbg.V = new Uint8Array(32).fill(1);
      await drbg.update(seed);
      return drbg;
    }

    async update(provided) {
      this.K = await hmacSha256(this.K, concat(this.V, new Uint8Array([0]), provided));
      this.V = await hmacSha256(this.K, this.V);
      if (provided.length) {
        this.K = await hmacSha256(this.K, concat(this.V, new Uint8Array([1]), provided));
        this.V = await hmacSha256(this.K, this.V);
      }
    }

    /** One Generate(8) call read as an unsigned big-endian 64-bit integer. */
    async word() {
      this.V = await hmacSha256(this.K, this.V);
      const out = new DataView(this.V.buffer, this.V.byteOffset, 8).getBigUint64(0, false);
      await this.update(new Uint8Array(0));
      return out;
    }
  }

  /** Uniform integer in [0, n) by rejection (section 5); returns {value, words}. */
  async function uniformBelow(drbg, n) {
    if (n < 1n || n > 1n << 63n) throw new RangeError(`bound ${n} outside [1, 2^63]`);
    const limit = TWO_64 - (TWO_64 % n);
    const words = [];
    for (;;) {
      const x = await drbg.word();
      words.push(x);
      if (x < limit) return { value: x % n, words };
    }
  }

  /** Fenwick tree over entries (BigInt), with point removal and find-by-ticket. */
  class TicketTree {
    constructor(entryAt, n) {
      this.n = n;
      this.tree = new BigInt64Array(n + 1);
      for (let i = 1; i <= n; i++) this.tree[i] = BigInt(entryAt(i - 1));
      for (let i = 1; i <= n; i++) {
        const j = i + (i & -i);
        if (j <= n) this.tree[j] += this.tree[i];
      }
      this.top = 1;
      while (this.top * 2 <= n) this.top *= 2;
    }

    /** Canonical index of the participant owning ticket r of the remaining numbering. */
    owner(r) {
      let pos = 0;
      for (let step = this.top; step > 0; step >>= 1) {
        const next = pos + step;
        if (next <= this.n && this.tree[next] <= r) {
          pos = next;
          r -= this.tree[next];
        }
      }
      return pos;
    }

    remove(index, entries) {
      for (let i = index + 1; i <= this.n; i += i & -i) this.tree[i] -= entries;
    }
  }

  /** (tier, role, position) of every slot in draw order (section 7). */
  function slots(prizes) {
    const out = [];
    for (const p of prizes) for (let i = 1; i <= p.count; i++) out.push({ tier: p.name, role: "winner", position: i });
    const rounds = Math.max(0, ...prizes.map((p) => p.reserves));
    for (let j = 1; j <= rounds; j++) {
      for (const p of prizes) if (j <= p.reserves) out.push({ tier: p.name, role: "reserve", position: j });
    }
    return out;
  }

  /**
   * Every pick of a draw: cohort is {size, entryAt(i) -> BigInt|Number, total: BigInt} in
   * canonical order. Returns {picks: [{slot, index, entries, ticket, total, words}],
   * shortfall, refused} where refused names the first prize tier that cannot be filled.
   */
  async function drawPicks(cohort, prizes, seed, awardPartial) {
    const wanted = slots(prizes);
    const places = prizes.reduce((n, p) => n + p.count, 0);
    if (cohort.size < places && !awardPartial) {
      let before = 0;
      for (const p of prizes) {
        if (before + p.count > cohort.size) {
          return { picks: [], shortfall: [], refused: `prize tier '${p.name}' needs ${p.count} winner(s) but only ${Math.max(cohort.size - before, 0)} participant(s) remain` };
        }
        before += p.count;
      }
    }
    const drbg = await HmacDrbg.create(seed);
    const tree = new TicketTree(cohort.entryAt, cohort.size);
    let inPlay = cohort.total;
    const picks = [];
    const k = Math.min(wanted.length, cohort.size);
    for (let j = 0; j < k; j++) {
      const { value, words } = await uniformBelow(drbg, inPlay);
      const index = tree.owner(value);
      const entries = BigInt(cohort.entryAt(index));
      picks.push({ slot: wanted[j], index, entries, ticket: value, total: inPlay, words });
      tree.remove(index, entries);
      inPlay -= entries;
    }
    const shortfall = [];
    for (const p of prizes) {
      for (const [role, want] of [["winner", p.count], ["reserve", p.reserves]]) {
        const drawn = picks.filter((x) => x.slot.tier === p.name && x.slot.role === role).length;
        if (drawn < want) shortfall.push({ tier: p.name, role, wanted: want, drawn });
      }
    }
    return { picks, shortfall, refused: null };
  }

  /** Tickets alone: each pick's ticket from the seed and the tickets in play, no cohort. */
  async function ticketsFromSeed(seed, totals) {
    const drbg = await HmacDrbg.create(seed);
    const out = [];
    for (const total of totals) out.push(await uniformBelow(drbg, total));
    return out;
  }

  async function firstWords(seed, count) {
    const drbg = await HmacDrbg.create(seed);
    const out = [];
    for (let i = 0; i < count; i++) out.push((await drbg.word()).toString(16).padStart(16, "0"));
    return out;
  }

  dv.draw = {
    SPEC_VERSION, seedMaterial, deriveSeed, randomnessLabel, HmacDrbg, uniformBelow,
    TicketTree, slots, drawPicks, ticketsFromSeed, firstWords, bytesToHex,
  };
})((globalThis.DrawkitVerifier = globalThis.DrawkitVerifier || {}));
