/* drawkit verifier: re-derive a draw from its record (and the participants file or the
 * public cohort list) and list every check in plain words. Spec sections 9 and 11.5. */
(function (dv) {
  "use strict";
  const { core, cohort: C, draw: D, beacon: B, record: R } = dv;

  const OK = "match";
  const DIFF = "difference";
  const SKIP = "not checked";
  const NOTE = "note";

  class Report {
    constructor() {
      this.checks = [];
      this.drawId = null;
    }

    add(status, title, detail, extra) {
      this.checks.push(Object.assign({ status, title, detail }, extra || {}));
    }

    ok(title, detail) {
      this.add(OK, title, detail);
    }

    diff(title, field, expected, found, note) {
      this.add(DIFF, title, note || "", { field, expected: show(expected), found: show(found) });
    }

    skip(title, detail) {
      this.add(SKIP, title, detail);
    }

    note(title, detail) {
      this.add(NOTE, title, detail);
    }

    /** Compare and record one value; returns true when equal. */
    same(title, field, expected, found, note, okDetail) {
      if (expected === found) {
        this.ok(title, okDetail || `${field} is ${show(found)}`);
        return true;
      }
      this.diff(title, field, expected, found, note);
      return false;
    }

    result() {
      const differences = this.checks.filter((c) => c.status === DIFF);
      return {
        drawId: this.drawId,
        ok: differences.length === 0,
        verdict: differences.length === 0 ? "MATCH" : "MISMATCH",
        checks: this.checks,
        differences,
        notChecked: this.checks.filter((c) => c.status === SKIP),
        lines: differences.map((d) => `${d.field}: expected ${d.expected}, record has ${d.found}${d.detail ? ` (${d.detail})` : ""}`),
      };
    }
  }

  function show(value) {
    if (value === null || value === undefined) return "none";
    if (Array.isArray(value)) return value.map(show).join(", ");
    return String(value);
  }

  const shownNumber = (text) => (C.isMasked(text) ? text : C.maskOf(text) ?? C.maskText(text));

  /**
   * Verify a draw. options: {recordText, participants (readParticipants result) or null,
   * publicCohort (readPublicCohort result) or null, acceptLocalChain, beaconValue (hex
   * fetched independently) or null}. Resolves to {ok, verdict, checks, differences, ...}.
   */
  async function verifyDraw(options) {
    const report = new Report();
    let record;
    try {
      record = R.readRecord(options.recordText);
    } catch (err) {
      if (!(err instanceof dv.FormatError)) throw err;
      report.diff("Record format", err.field, "a draw record as the spec defines it", err.message);
      return report.result();
    }
    report.drawId = record.drawId;
    report.record = record;
    report.same("Spec version", "spec_version", D.SPEC_VERSION, record.specVersion, "this page implements drawkit-draw/1 only");
    const restored = { winners: record.winners.map(() => null), excluded: record.excludedMsisdns.map(() => null), complete: true };
    const drawn = await checkCohort(record, options, report, restored);
    if (record.isPublic && !(drawn && drawn.full)) restored.complete = false;
    checkCommitment(record, report);
    const seed = await checkSeed(record, options, report);
    await checkBeacon(record, options, report);
    if (seed) await checkWinners(record, drawn, seed, report, restored);
    await checkHash(record, report, restored);
    const out = report.result();
    out.record = summary(record);
    return out;
  }

  function summary(record) {
    return {
      drawId: record.drawId,
      promotion: record.promotion,
      drawDate: record.drawDate,
      participants: record.participants,
      totalEntries: String(record.totalEntries),
      isPublic: record.isPublic,
      winners: record.winners.map((w) => ({
        tier: w.tier, role: w.role, position: w.position, drawOrder: w.drawOrder,
        msisdn: shownNumber(w.msisdn), entries: String(w.entries),
        ticket: String(w.ticket), totalTickets: String(w.totalTickets),
      })),
    };
  }

  // ---------------------------------------------------------------- 1. cohort

  /** The cohort to draw from: {source, cohort} or null when the page has neither file. */
  async function checkCohort(record, options, report, restored) {
    const parsed = options.participants;
    if (parsed) return checkParticipantsFile(record, parsed, report, restored);
    if (options.publicCohort) return checkPublicCohort(record, options.publicCohort, report);
    report.skip("Cohort digest", "load the participants file to re-derive the cohort digest (auditor), or the public cohort list to re-draw the winners by masked number");
    return null;
  }

  async function checkParticipantsFile(record, parsed, report, restored) {
    const excluded = new Set();
    const masked = record.excludedMsisdns.filter(C.isMasked);
    const candidates = masked.length ? C.numbersWithMasks(parsed, masked) : new Map();
    let unmasked = true;
    record.excludedMsisdns.forEach((m, j) => {
      if (C.isMasked(m)) {
        const found = candidates.get(m);
        if (found.length !== 1) {
          report.diff("Excluded recent winners", "excluded_msisdns", "one participant per masked number", `${m} matches ${found.length}`, "verify with the private record");
          unmasked = false;
          return;
        }
        excluded.add(found[0]);
        restored.excluded[j] = C.e164(found[0]);
      } else {
        const national = C.nationalNumber(m);
        if (national === null || C.e164(national) !== m) {
          report.diff("Excluded recent winners", `excluded_msisdns[${j}]`, "an E.164 number", shownNumber(m));
          unmasked = false;
          return;
        }
        excluded.add(national);
      }
    });
    if (record.excludedMsisdns.length && unmasked) {
      report.ok("Excluded recent winners", `${record.excludedMsisdns.length} number(s) removed before the cohort was built (the ledger, not this page, shows they won recently)`);
    }
    if (!unmasked) restored.complete = false;
    let cohort;
    try {
      cohort = await C.canonicalCohort(parsed, excluded);
    } catch (err) {
      if (!(err instanceof dv.FormatError)) throw err;
      report.diff("Cohort", "participants", "a valid cohort", err.message);
      restored.complete = false;
      return null;
    }
    const digestOk = report.same("Cohort digest", "cohort_digest", cohort.digest, record.cohortDigest,
      "the participants file is not the cohort that was drawn",
      `SHA-256 of the ${cohort.size.toLocaleString("en")} canonical lines is the record's cohort_digest`);
    if (!digestOk) locateEntryChanges(record, cohort, report);
    report.same("Participants", "participants", cohort.size, record.participants);
    report.same("Total entries", "total_entries", String(cohort.total), String(record.totalEntries));
    return { source: "participants file", cohort, full: true };
  }

  function locateEntryChanges(record, cohort, report) {
    record.winners.forEach((w, i) => {
      let index = -1;
      if (C.isMasked(w.msisdn)) {
        return; // the public copy's winners are placed by the re-draw below
      }
      const national = C.nationalNumber(w.msisdn);
      if (national !== null) index = cohort.indexOf(national);
      const now = index >= 0 ? String(cohort.entryAt(index)) : "not in the file";
      if (now !== String(w.entries)) {
        report.diff("Winner's entries in the file", `participants[${shownNumber(w.msisdn)}].entries`, String(w.entries), now, `winner ${i} has different entries in the file`);
      }
    });
  }

  async function checkPublicCohort(record, list, report) {
    report.skip("Cohort digest", "the public cohort list holds masked numbers, and the digest covers full numbers: an auditor checks it with the participants file");
    report.same("Participants", "participants", list.size, record.participants, "the public cohort list is not this draw's cohort");
    report.same("Total entries", "total_entries", String(list.total), String(record.totalEntries), "the public cohort list is not this draw's cohort");
    return { source: "public cohort list", cohort: list, full: false };
  }

  // ---------------------------------------------------------------- 2. commitment

  function checkCommitment(record, report) {
    const c = record.commitment;
    const before = report.checks.length;
    report.same("Commitment", "commitment.draw_id", record.drawId, c.drawId);
    report.same("Commitment", "commitment.cohort_digest", record.cohortDigest, c.cohortDigest, "the cohort drawn is not the one committed");
    report.same("Commitment", "commitment.participants", record.participants, c.participants);
    report.same("Commitment", "commitment.total_entries", String(record.totalEntries), String(c.totalEntries));
    report.same("Commitment", "commitment.beacon_round", record.beaconRound, c.beaconRound, "the draw used another beacon round than the one committed");
    if (c.sequence >= record.sequence) {
      report.diff("Commitment", "commitment.sequence", `< ${record.sequence}`, c.sequence, "committed after the draw");
    }
    // collapse the agreeing comparisons into one line
    const added = report.checks.splice(before);
    const diffs = added.filter((x) => x.status === DIFF);
    report.checks.push(...diffs);
    if (!diffs.length) report.ok("Commitment", "the commitment names this draw, its cohort digest, size and beacon round, and comes before the draw in the ledger");
    if (c.madeAtDraw) report.note("Commitment", "made at draw time (made_at_draw): this draw was not committed in advance");
    return c;
  }

  // ---------------------------------------------------------------- 3. seed

  async function checkSeed(record, options, report) {
    const c = record.commitment;
    const secret = record.secret === null ? null : core.hexToBytes(record.secret, "secret");
    const revealed = secret === null ? null : core.bytesToHex(await core.sha256(secret));
    report.same("Operator secret", "secret", c.secretCommitment, revealed, "the revealed secret does not hash to its commitment",
      secret === null ? "no operator secret was committed or revealed" : "SHA-256 of the revealed secret is the committed secret_commitment");
    const beacon = record.beaconValue === null ? null : core.hexToBytes(record.beaconValue, "beacon_value");
    if (options.beaconValue) {
      report.same("Beacon value", "beacon_value", options.beaconValue, record.beaconValue, "the record's beacon value is not the published one");
    }
    let seed;
    try {
      seed = await D.deriveSeed(record.drawId, record.cohortDigest, beacon, secret);
    } catch (err) {
      if (!(err instanceof dv.FormatError)) throw err;
      report.diff("Seed", "seed", "a derivable seed", err.message);
      return null;
    }
    report.same("Seed", "seed", core.bytesToHex(seed), record.seed,
      "the seed does not follow from draw_id, cohort_digest, beacon_value and secret",
      "SHA-256 of the tag, draw id, cohort digest, beacon value and secret is the record's seed");
    report.same("Randomness", "randomness", D.randomnessLabel(beacon, secret, record.beaconChain), record.randomness);
    const words = await D.firstWords(seed, 4);
    report.same("First words", "first_words", words.join(", "), record.firstWords.join(", "), "",
      "the first 4 HMAC_DRBG words are the record's first_words");
    return seed;
  }

  // ---------------------------------------------------------------- 4. beacon

  async function checkBeacon(record, options, report) {
    if (record.beaconValue === null) {
      report.note("Beacon", record.beaconRound === null ? "no public beacon: the draw relies on the operator secret alone" : "a beacon round is named but no beacon value was used");
      return;
    }
    if (record.beaconRound === null) {
      report.skip("Beacon", "the record has a beacon value but no round number, so it cannot be checked against drand");
      return;
    }
    const chain = record.beaconChain;
    if (!record.hasBeaconFields || record.beaconSignature === null) {
      report.skip("Beacon signature", "no beacon signature in this record: the beacon value is not authenticated, so this page cannot tell it is drand's value of round " + record.beaconRound);
      timing(record, B.QUICKNET, 0, report);
      return;
    }
    if (chain === null) {
      report.diff("Beacon chain", "beacon_chain", "the chain the signature belongs to", "none");
      return;
    }
    const unlike = B.sameChain(chain, B.QUICKNET);
    if (unlike.length === 0) {
      report.ok("Beacon chain", "the record names drand quicknet, the chain drawkit pins");
    } else if (options.acceptLocalChain) {
      report.note("Beacon chain", `a local test chain (it differs from quicknet in ${unlike.join(", ")}) accepted by choice: NOT public randomness`);
    } else {
      report.diff("Beacon chain", "beacon_chain", "drand quicknet " + B.QUICKNET.hash, `a chain that differs in ${unlike.join(", ")}`, "tick 'accept a local test chain' only for a test draw");
    }
    const valid = await B.verifyRound(chain.publicKey, record.beaconRound, record.beaconSignature);
    if (valid) report.ok("Beacon signature", `a valid BLS signature of round ${record.beaconRound} under the chain's key`);
    else report.diff("Beacon signature", "beacon_signature", `the chain's BLS signature of round ${record.beaconRound}`, "a signature that does not verify", "the beacon value is not that round's randomness");
    report.same("Beacon value", "beacon_value", await B.randomnessOf(record.beaconSignature), record.beaconValue,
      "the beacon value is not SHA-256 of the round's signature", "the beacon value is SHA-256 of the round's signature");
    const margin = record.commitment.commitMarginSeconds;
    timing(record, chain, margin === null ? B.COMMIT_MARGIN_SECONDS : margin, report);
  }

  /** committed_at < publication, committed_at + margin <= publication <= created_at, the
   * margin being the commitment's commit_margin_seconds (spec 3.2, 11.7). */
  function timing(record, chain, margin, report) {
    let committed;
    let created;
    try {
      committed = core.isoMicros(record.commitment.committedAt, "commitment.committed_at");
      created = core.isoMicros(record.createdAt, "created_at");
    } catch (err) {
      if (!(err instanceof dv.FormatError)) throw err;
      report.diff("Beacon timing", err.field, "an ISO 8601 time", err.message);
      return;
    }
    const published = B.roundMicros(chain, record.beaconRound);
    const words = `round ${record.beaconRound} was published at ${core.microsToIso(published)}; committed at ${core.microsToIso(committed)}, drawn at ${core.microsToIso(created)}`;
    const marginText = margin ? ` more than ${margin} s` : "";
    if (!(committed < published && committed + BigInt(margin) * 1000000n <= published)) {
      report.diff("Beacon timing", "commitment.committed_at", `earlier than the round's publication${marginText}`, core.microsToIso(committed), `${words}: the round's value could be known when the cohort was committed`);
    } else if (!(published <= created)) {
      report.diff("Beacon timing", "created_at", "no earlier than the round's publication", core.microsToIso(created), `${words}: the draw ran before the round was published`);
    } else {
      report.ok("Beacon timing", `${words}: unknown when committed, published before the draw`);
    }
  }

  // ---------------------------------------------------------------- 5. winners

  async function checkWinners(record, drawn, seed, report, restored) {
    if (!drawn) {
      await checkTicketsOnly(record, seed, report);
      return;
    }
    const { picks, shortfall, refused } = await D.drawPicks(drawn.cohort, record.prizes, seed, record.awardPartial);
    if (refused) {
      report.diff("Winners", "winners", "a drawable cohort", refused);
      restored.complete = false;
      return;
    }
    let same = true;
    const n = Math.min(picks.length, record.winners.length);
    if (picks.length !== record.winners.length) {
      report.diff("Winners", "winners.count", picks.length, record.winners.length);
      same = false;
    }
    for (let i = 0; i < n; i++) {
      const p = picks[i];
      const got = record.winners[i];
      const want = {
        msisdn: drawn.full ? C.e164(drawn.cohort.national(p.index)) : drawn.cohort.masks[p.index],
        tier: p.slot.tier, role: p.slot.role, position: p.slot.position, drawOrder: i + 1,
        entries: p.entries, ticket: p.ticket, totalTickets: p.total,
      };
      if (drawn.full) restored.winners[i] = want.msisdn;
      for (const [field, key] of R.FIELDS.WINNER_ORDER) {
        let a = want[key];
        let b = got[key];
        if (key === "msisdn") {
          if (C.isMasked(b) || !drawn.full) a = C.isMasked(a) ? a : C.maskOf(a);
          if (!C.isMasked(b) && !drawn.full) b = C.maskOf(b) ?? b;
          a = shownNumber(a);
          b = shownNumber(b);
        }
        if (String(a) !== String(b)) {
          report.diff("Winners", R.FIELDS.winner(i, field), a, b, `draw order ${i + 1}`);
          same = false;
          break;
        }
      }
    }
    const wantShort = shortfall.map((s) => `${s.tier} ${s.role} ${s.drawn}/${s.wanted}`).join("; ");
    const gotShort = record.shortfall.map((s) => `${s.tier} ${s.role} ${s.drawn}/${s.wanted}`).join("; ");
    if (wantShort !== gotShort) {
      report.diff("Shortfall", "shortfall", wantShort || "none", gotShort || "none");
      same = false;
    }
    if (same) {
      report.ok("Winners", `all ${picks.length} picks (winners and reserves) re-drawn from the seed over the ${drawn.source} are the record's, in order`);
    }
    if (!drawn.full) restored.complete = false;
  }

  /** Without a cohort: each ticket from the seed and the tickets in play (spec 5, 6). */
  async function checkTicketsOnly(record, seed, report) {
    let inPlay = record.totalEntries;
    const totals = [];
    let same = true;
    record.winners.forEach((w, i) => {
      if (w.totalTickets !== inPlay) {
        if (same) report.diff("Tickets", R.FIELDS.winner(i, "total_tickets_at_pick"), String(inPlay), String(w.totalTickets), "the tickets in play fall by each earlier pick's entries");
        same = false;
      }
      totals.push(w.totalTickets > 0n ? w.totalTickets : 1n);
      inPlay = w.totalTickets - w.entries;
    });
    const drawnTickets = await D.ticketsFromSeed(seed, totals);
    record.winners.forEach((w, i) => {
      if (drawnTickets[i].value !== w.ticket) {
        report.diff("Tickets", R.FIELDS.winner(i, "ticket"), String(drawnTickets[i].value), String(w.ticket), `draw order ${i + 1}: not the ticket the seed gives`);
        same = false;
      }
    });
    if (same) report.ok("Tickets", `every winning ticket is the one the seed gives for the tickets in play (${record.winners.length} picks)`);
    report.skip("Winners", "which participant owns each ticket needs the participants file or the public cohort list");
  }

  // ---------------------------------------------------------------- 6. record hash

  async function checkHash(record, report, restored) {
    const c = record.commitment;
    report.same("Commitment hash", "commitment.record_hash", await core.entryHash(c.raw), c.recordHash, "the embedded commitment was changed after it was written",
      "the embedded commitment hashes to its record_hash");
    if (!restored.complete) {
      report.skip("Record hash", record.isPublic
        ? "a public copy hashes to record_hash only with the full numbers put back: load the participants file"
        : "the record could not be re-derived");
      return;
    }
    const body = record.isPublic ? R.withNumbers(record, restored.winners, restored.excluded) : record.raw;
    report.same("Record hash", "record_hash", await core.entryHash(body), record.recordHash, "the record was changed after it was written",
      record.isPublic ? "with the full numbers put back, the public copy hashes to the private record's record_hash" : "the record hashes to its record_hash");
  }

  // ---------------------------------------------------------------- entrant

  /**
   * What the page can say to an entrant who typed `typed`: {known, text}. Full numbers
   * come from the participants file; masked ones from the public cohort list (several
   * people can share a mask, and the list never shows more than the mask).
   */
  async function lookupEntrant(typed, sources) {
    const national = C.nationalNumber(typed);
    if (national === null) return { known: false, text: "That is not a Nigerian mobile number (e.g. 0803 123 4567)." };
    const masked = C.mask(national);
    const record = sources.record || null;
    const lines = [];
    if (record) {
      const excluded = record.excludedMsisdns.some((m) => m === C.e164(national) || m === masked);
      if (excluded) lines.push(`A number shown as ${masked} was left out of this draw as a recent winner.`);
    }
    if (sources.cohort) {
      const i = sources.cohort.indexOf(national);
      lines.push(i >= 0 ? `${masked} was in the cohort with ${sources.cohort.entryAt(i).toLocaleString("en")} entries.` : `${masked} was not in the cohort of this draw.`);
    } else if (sources.publicCohort) {
      const found = [];
      sources.publicCohort.masks.forEach((m, i) => {
        if (m === masked) found.push(sources.publicCohort.entryAt(i));
      });
      if (!found.length) lines.push(`No participant's number is shown as ${masked}: you were not in the cohort of this draw.`);
      else if (found.length === 1) lines.push(`One participant's number is shown as ${masked}, with ${found[0].toLocaleString("en")} entries. If that is your entry count, you were in the cohort.`);
      else lines.push(`${found.length} participants have numbers shown as ${masked}, with ${found.map((e) => e.toLocaleString("en")).join(", ")} entries. If one of these is your entry count, you were in the cohort.`);
    } else {
      lines.push("Load the public cohort list (cohort.public.csv) to see whether you were in the cohort.");
    }
    if (record) {
      const mine = record.winners.filter((w) => (C.isMasked(w.msisdn) ? w.msisdn === masked : w.msisdn === C.e164(national)));
      for (const w of mine) lines.push(`A ${w.role} of ${w.tier} (position ${w.position}) has the number ${masked}, with ${w.entries.toLocaleString("en")} entries.`);
      if (!mine.length) lines.push(`No winner or reserve of this draw has the number ${masked}.`);
    }
    return { known: true, masked, text: lines.join(" ") };
  }

  dv.verify = { verifyDraw, lookupEntrant, STATUS: { OK, DIFF, SKIP, NOTE } };
})((globalThis.DrawkitVerifier = globalThis.DrawkitVerifier || {}));
