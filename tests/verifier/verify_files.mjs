// node tests/verifier/verify_files.mjs CASES.json: verify each case {record, participants?,
// public_cohort?, accept_local_chain?} with the page's code and print one JSON result per case.
import fs from "node:fs";
import { dv } from "./load.mjs";

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = [];
for (const c of cases) {
  const participants = c.participants ? await dv.cohort.readParticipants(fs.readFileSync(c.participants)) : null;
  const publicCohort = c.public_cohort ? await dv.cohort.readPublicCohort(fs.readFileSync(c.public_cohort)) : null;
  const result = await dv.verify.verifyDraw({
    recordText: fs.readFileSync(c.record, "utf8"),
    participants,
    publicCohort,
    acceptLocalChain: Boolean(c.accept_local_chain),
  });
  out.push({
    name: c.name,
    verdict: result.verdict,
    fields: result.differences.map((d) => d.field),
    lines: result.lines,
    not_checked: result.notChecked.map((x) => x.title),
    checks: result.checks.map((x) => [x.title, x.status]),
  });
}
process.stdout.write(JSON.stringify(out));
