/* drawkit verifier: the one place that reads draw record fields (spec 8.3, 8.4 and the
 * beacon fields of the randomness protocol). Every other file uses the view built here,
 * so a change of record format is a change of this file. Errors name the field, never
 * its value (a value can be a phone number). */
(function (dv) {
  "use strict";
  const { FormatError } = dv;

  const typeName = (v) => (v === null ? "null" : Array.isArray(v) ? "list" : typeof v === "bigint" ? "integer" : typeof v === "object" ? "object" : typeof v);

  function reader(obj, where) {
    const path = (name) => (where ? `${where}.${name}` : name);
    const get = (name, optional) => {
      if (!Object.hasOwn(obj, name)) {
        if (optional) return undefined;
        throw new FormatError(path(name), "is missing");
      }
      return obj[name];
    };
    const want = (name, ok, kind, optional) => {
      const v = get(name, optional);
      if (v === undefined) return undefined;
      if (!ok(v)) throw new FormatError(path(name), `must be ${kind}, not ${typeName(v)}`);
      return v;
    };
    return {
      str: (name) => want(name, (v) => typeof v === "string", "text"),
      optStr: (name) => want(name, (v) => v === null || typeof v === "string", "text or null"),
      bool: (name) => want(name, (v) => typeof v === "boolean", "true or false"),
      big: (name) => want(name, (v) => typeof v === "bigint", "an integer"),
      int: (name) => {
        const v = want(name, (x) => typeof x === "bigint", "an integer");
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(path(name), "is too large");
        return Number(v);
      },
      optInt: (name, absentOk) => {
        const v = want(name, (x) => x === null || typeof x === "bigint", "an integer or null", absentOk);
        return v === undefined || v === null ? null : Number(v);
      },
      list: (name) => want(name, Array.isArray, "a list"),
      obj: (name, optional) => want(name, (v) => v !== null && typeof v === "object" && !Array.isArray(v), "an object", optional),
      optObj: (name) => want(name, (v) => v === null || (typeof v === "object" && !Array.isArray(v)), "an object or null", true),
      optHex: (name, absentOk) => {
        const v = want(name, (x) => x === null || typeof x === "string", "hex text or null", absentOk);
        if (v === undefined || v === null) return null;
        dv.core.hexToBytes(v, path(name));
        return v;
      },
      hex: (name) => {
        const v = want(name, (x) => typeof x === "string", "hex text");
        dv.core.hexToBytes(v, path(name));
        return v;
      },
      has: (name) => Object.hasOwn(obj, name),
      path,
    };
  }

  function commitmentView(raw) {
    const r = reader(raw, "commitment");
    return {
      raw,
      drawId: r.str("draw_id"),
      cohortDigest: r.hex("cohort_digest"),
      participants: r.int("participants"),
      totalEntries: r.big("total_entries"),
      beaconRound: r.optInt("beacon_round"),
      secretCommitment: r.optHex("secret_commitment"),
      committedAt: r.str("committed_at"),
      commitMarginSeconds: raw.commit_margin_seconds === undefined ? null : r.int("commit_margin_seconds"),
      madeAtDraw: r.bool("made_at_draw"),
      sequence: r.int("sequence"),
      previousRecordHash: r.optHex("previous_record_hash"),
      recordHash: r.hex("record_hash"),
      kind: r.str("kind"),
    };
  }

  /** The beacon chain a record names (planned fields of issue 12), or null. */
  function chainView(raw) {
    if (raw === undefined || raw === null) return null;
    const r = reader(raw, "beacon_chain");
    return {
      hash: r.hex("hash"),
      publicKey: r.hex("public_key"),
      genesisTime: r.int("genesis_time"),
      period: r.int("period"),
      scheme: r.str("scheme"),
      beaconId: raw.beacon_id === undefined ? null : r.str("beacon_id"),
    };
  }

  /** Parse and check a draw record (private or public copy); a FormatError names the field. */
  function readRecord(text) {
    const raw = dv.core.parseJson(text);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new FormatError("record", "must be a JSON object");
    const r = reader(raw, "");
    if (r.str("kind") !== "draw") throw new FormatError("kind", "is not 'draw': this JSON is not a draw record");
    const winners = r.list("winners").map((w, i) => {
      const q = reader(w, `winners[${i}]`);
      return {
        tier: q.str("tier"),
        role: q.str("role"),
        position: q.int("position"),
        drawOrder: q.int("draw_order"),
        msisdn: q.str("msisdn"),
        entries: q.big("entries"),
        ticket: q.big("ticket"),
        totalTickets: q.big("total_tickets_at_pick"),
      };
    });
    const prizes = r.list("prizes").map((p, i) => {
      const q = reader(p, `prizes[${i}]`);
      return { name: q.str("name"), valueNgn: q.big("value_ngn"), count: q.int("count"), reserves: q.int("reserves") };
    });
    const shortfall = r.list("shortfall").map((s, i) => {
      const q = reader(s, `shortfall[${i}]`);
      return { tier: q.str("tier"), role: q.str("role"), wanted: q.int("wanted"), drawn: q.int("drawn") };
    });
    const excluded = r.list("excluded_msisdns").map((m, i) => {
      if (typeof m !== "string") throw new FormatError(`excluded_msisdns[${i}]`, "must be text");
      return m;
    });
    const firstWords = r.list("first_words").map((w, i) => {
      if (typeof w !== "string") throw new FormatError(`first_words[${i}]`, "must be text");
      return w;
    });
    const view = {
      raw,
      drawId: r.str("draw_id"),
      promotion: r.str("promotion"),
      drawDate: r.str("draw_date"),
      cohortDigest: r.hex("cohort_digest"),
      participants: r.int("participants"),
      totalEntries: r.big("total_entries"),
      recentWinnerDays: r.int("recent_winner_days"),
      excludedMsisdns: excluded,
      commitment: commitmentView(r.obj("commitment")),
      beaconRound: r.optInt("beacon_round"),
      beaconValue: r.optHex("beacon_value"),
      beaconSignature: r.optHex("beacon_signature", true),
      beaconChain: chainView(r.optObj("beacon_chain") ?? null),
      hasBeaconFields: r.has("beacon_signature") || r.has("beacon_chain"),
      secret: r.optHex("secret"),
      randomness: r.str("randomness"),
      seed: r.hex("seed"),
      firstWords,
      specVersion: r.str("spec_version"),
      prizes,
      awardPartial: r.bool("award_partial"),
      shortfall,
      winners,
      createdAt: r.str("created_at"),
      sequence: r.int("sequence"),
      previousRecordHash: r.optHex("previous_record_hash"),
      recordHash: r.hex("record_hash"),
    };
    view.isPublic = winners.some((w) => w.msisdn.includes("*")) || excluded.some((m) => m.includes("*"));
    return view;
  }

  /**
   * The record's JSON object with full numbers put back (spec 9, public copy): winner i
   * gets winnerNumbers[i] where that is not null, excluded j gets excludedNumbers[j].
   */
  function withNumbers(view, winnerNumbers, excludedNumbers) {
    const copy = Object.assign(Object.create(null), view.raw);
    copy.winners = view.raw.winners.map((w, i) => {
      const n = winnerNumbers[i];
      return n === null || n === undefined ? w : Object.assign(Object.create(null), w, { msisdn: n });
    });
    copy.excluded_msisdns = view.raw.excluded_msisdns.map((m, j) => excludedNumbers[j] ?? m);
    return copy;
  }

  /** Record field names, for the differences the page shows. */
  const FIELDS = {
    winner: (i, name) => `winners[${i}].${name}`,
    WINNER_ORDER: [
      ["msisdn", "msisdn"], ["tier", "tier"], ["role", "role"], ["position", "position"],
      ["draw_order", "drawOrder"], ["entries", "entries"], ["ticket", "ticket"],
      ["total_tickets_at_pick", "totalTickets"],
    ],
  };

  dv.record = { readRecord, withNumbers, FIELDS };
})((globalThis.DrawkitVerifier = globalThis.DrawkitVerifier || {}));
