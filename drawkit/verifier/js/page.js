/* drawkit verifier: the page. Reads the chosen files, runs DrawkitVerifier.verify and
 * shows MATCH or each difference in plain words. The last result is also kept in
 * window.drawkitVerifierLast (and the pending run in window.drawkitVerifierRun) for
 * headless checks. */
(function (dv) {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const state = { participants: null, participantsFile: null, publicCohort: null, publicFile: null, cohort: null, record: null };

  function text(el, value) {
    el.textContent = value;
    return el;
  }

  function row(cells, cls) {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const [value, klass] of cells) {
      const td = document.createElement("td");
      if (klass) td.className = klass;
      td.textContent = value;
      tr.appendChild(td);
    }
    return tr;
  }

  const progress = (message) => text($("progress"), message);

  async function readText(file) {
    return typeof file === "string" ? file : file.text();
  }

  async function participantsOf(file) {
    if (!file) return null;
    if (state.participantsFile !== file) {
      const started = performance.now();
      state.participants = await dv.cohort.readParticipants(file, (bytes, rows) =>
        progress(`reading the participants file: ${rows.toLocaleString("en")} rows (${(bytes / 1e6).toFixed(1)} MB)`));
      state.participantsFile = file;
      state.readMs = performance.now() - started;
    }
    return state.participants;
  }

  async function publicCohortOf(file) {
    if (!file) return null;
    if (state.publicFile !== file) {
      state.publicCohort = await dv.cohort.readPublicCohort(file, (bytes, rows) =>
        progress(`reading the public cohort list: ${rows.toLocaleString("en")} rows`));
      state.publicFile = file;
    }
    return state.publicCohort;
  }

  function recordSource() {
    const file = $("record-file").files[0];
    if (file) return file;
    return globalThis.DRAWKIT_EMBEDDED_RECORD || null;
  }

  async function run() {
    const started = performance.now();
    const source = recordSource();
    if (!source) {
      progress("Choose the draw record file first.");
      return null;
    }
    let participants = null;
    let publicCohort = null;
    const failures = [];
    try {
      participants = await participantsOf($("participants-file").files[0]);
    } catch (err) {
      if (!(err instanceof dv.FormatError)) throw err;
      failures.push({ field: "participants", expected: "a participants file as the spec defines it", found: err.message });
    }
    try {
      publicCohort = participants ? null : await publicCohortOf($("cohort-file").files[0]);
    } catch (err) {
      if (!(err instanceof dv.FormatError)) throw err;
      failures.push({ field: "public cohort list", expected: "a public cohort list as the spec defines it", found: err.message });
    }
    progress("re-deriving the draw…");
    const result = await dv.verify.verifyDraw({
      recordText: await readText(source),
      participants,
      publicCohort,
      acceptLocalChain: $("accept-local-chain").checked,
    });
    for (const f of failures) {
      result.checks.unshift({ status: "difference", title: "Input file", detail: "", ...f });
      result.differences.unshift(result.checks[0]);
      result.lines.unshift(`${f.field}: expected ${f.expected}, found: ${f.found}`);
      result.ok = false;
      result.verdict = "MISMATCH";
    }
    result.elapsedMs = performance.now() - started;
    state.record = null;
    try {
      state.record = dv.record.readRecord(await readText(source));
    } catch {
      /* shown as a difference already */
    }
    state.cohort = null;
    if (participants && state.record) {
      try {
        state.cohort = await dv.cohort.canonicalCohort(participants, new Set());
      } catch {
        state.cohort = null;
      }
    }
    show(result);
    progress(`done in ${(result.elapsedMs / 1000).toFixed(2)} s`);
    return result;
  }

  function show(result) {
    $("result").hidden = false;
    const verdict = $("verdict");
    verdict.className = result.ok ? "match" : "mismatch";
    text(verdict, result.verdict);
    const r = result.record;
    text($("summary"), r
      ? `Draw ${r.drawId} (${r.promotion}, draw date ${r.drawDate}): ${r.participants.toLocaleString("en")} participants, ${BigInt(r.totalEntries).toLocaleString("en")} entries. ${result.ok ? "Every check this page could make agrees with the record." : `${result.differences.length} difference(s):`}`
      : "The record could not be read.");
    const list = $("differences");
    list.replaceChildren(...result.lines.map((line) => text(document.createElement("li"), line)));
    const body = $("checks").tBodies[0];
    body.replaceChildren(...result.checks.map((c) => row([
      [c.title],
      [c.status === "match" ? "MATCH" : c.status === "difference" ? "MISMATCH" : c.status === "not checked" ? "not checked" : "note", "status"],
      [c.status === "difference" ? `${c.field}: expected ${c.expected}, record has ${c.found}${c.detail ? ` (${c.detail})` : ""}` : c.detail],
    ], c.status.replace(" ", "-"))));
    const winners = $("winners").tBodies[0];
    winners.replaceChildren(...(r ? r.winners : []).map((w) => row([
      [String(w.drawOrder)], [w.tier], [`${w.role} ${w.position}`], [w.msisdn],
      [BigInt(w.entries).toLocaleString("en")], [BigInt(w.ticket).toLocaleString("en")], [BigInt(w.totalTickets).toLocaleString("en")],
    ])));
  }

  async function checkEntrant() {
    const typed = $("entrant-number").value;
    let record = state.record;
    const source = recordSource();
    if (!record && source) {
      try {
        record = dv.record.readRecord(await readText(source));
      } catch {
        record = null;
      }
    }
    let publicCohort = null;
    let cohort = state.cohort;
    try {
      if (!cohort && $("participants-file").files[0]) {
        cohort = await dv.cohort.canonicalCohort(await participantsOf($("participants-file").files[0]), new Set());
      }
      if (!cohort) publicCohort = await publicCohortOf($("cohort-file").files[0]);
    } catch (err) {
      text($("entrant-answer"), err.message);
      return null;
    }
    const answer = await dv.verify.lookupEntrant(typed, { record, cohort, publicCohort });
    text($("entrant-answer"), answer.text);
    window.drawkitEntrantLast = answer;
    return answer;
  }

  function start(action) {
    const pending = action().catch((err) => {
      progress(`The page failed: ${err.message}`);
      return { ok: false, verdict: "ERROR", error: String(err && err.message) };
    });
    window.drawkitVerifierRun = pending;
    pending.then((result) => {
      window.drawkitVerifierLast = result;
    });
    return pending;
  }

  $("verify").addEventListener("click", () => start(run));
  $("entrant-check").addEventListener("click", () => start(checkEntrant));
  $("entrant-number").addEventListener("keydown", (e) => {
    if (e.key === "Enter") start(checkEntrant);
  });
  if (globalThis.DRAWKIT_EMBEDDED_RECORD) {
    text($("record-embedded"), "The public record of this report folder is built into this page; choose a file only to check another one.");
  }
  window.drawkitVerifierReady = true;
})(globalThis.DrawkitVerifier);
