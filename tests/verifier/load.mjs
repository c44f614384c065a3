// Load the verifier page's scripts into this Node process, in the order index.html loads
// them, so the tests run exactly what the page ships (the page itself, js/page.js, needs a
// DOM and is tested in headless chromium instead).
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PAGE = path.join(ROOT, "drawkit", "verifier");
export const SPEC = path.join(ROOT, "docs", "draw-spec.md");

if (!globalThis.crypto || !globalThis.crypto.subtle) {
  globalThis.crypto = (await import("node:crypto")).webcrypto; // Node 18
}

export function pageScripts() {
  const html = fs.readFileSync(path.join(PAGE, "index.html"), "utf8");
  return [...html.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]);
}

for (const src of pageScripts()) {
  if (src === "js/page.js" || src === "record-data.js") continue;
  vm.runInThisContext(fs.readFileSync(path.join(PAGE, src), "utf8"), { filename: src });
}

export const dv = globalThis.DrawkitVerifier;

/** The spec's fenced blocks tagged `json <tag>`, read with the page's exact JSON reader. */
export function specBlocks(tag) {
  const text = fs.readFileSync(SPEC, "utf8");
  const block = new RegExp("^```json " + tag + "\\n([\\s\\S]*?)\\n```$", "gm");
  return [...text.matchAll(block)].map((m) => dv.core.parseJson(m[1]));
}

/** A participants CSV (msisdn,entries) for rows of [msisdn, entries]. */
export function csvOf(rows) {
  return "msisdn,entries\n" + rows.map(([m, e]) => `${m},${e}`).join("\n") + "\n";
}

export const hex = (text) => dv.core.hexToBytes(text, "test");
