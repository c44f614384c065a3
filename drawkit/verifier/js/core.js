/* drawkit verifier: bytes, hex, SHA-256 and HMAC (WebCrypto), exact JSON, UTC times.
 *
 * Written from docs/draw-spec.md. Every file of the verifier is a classic script (the page
 * must work from file://, where browsers refuse ES modules) that adds its part to the one
 * namespace globalThis.DrawkitVerifier.
 */
(function (dv) {
  "use strict";

  /** An input that breaks the spec's format rules; `field` names where. */
  class FormatError extends Error {
    constructor(field, message) {
      super(`${field}: ${message}`);
      this.field = field;
      this.name = "FormatError";
    }
  }

  const HEX = /^(?:[0-9a-f]{2})*$/;

  /** Lowercase hex, even length, nothing else (spec: conventions and section 11.2). */
  function hexToBytes(text, field) {
    if (typeof text !== "string" || !HEX.test(text)) {
      throw new FormatError(field, "must be lowercase hexadecimal with an even number of digits");
    }
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  function bytesToHex(bytes) {
    let text = "";
    for (const b of bytes) text += b.toString(16).padStart(2, "0");
    return text;
  }

  const encoder = new TextEncoder();
  function utf8(text) {
    return encoder.encode(text);
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function u32be(n) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, n, false);
    return out;
  }

  function u64be(n) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(n), false);
    return out;
  }

  function subtle() {
    const c = globalThis.crypto;
    if (!c || !c.subtle) {
      throw new Error("this browser has no WebCrypto (crypto.subtle): open the page in a current browser");
    }
    return c.subtle;
  }

  async function sha256(bytes) {
    return new Uint8Array(await subtle().digest("SHA-256", bytes));
  }

  async function hmacSha256(key, data) {
    const k = await subtle().importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await subtle().sign("HMAC", k, data));
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // ---------------------------------------------------------------- exact JSON
  // Integers can exceed 2^53 (total_entries, tickets), so they are read as BigInt; a
  // number with a fraction or an exponent is refused (ledger entries hold no floats).

  function parseJson(text) {
    let i = 0;
    const fail = (what) => {
      throw new FormatError("JSON", `${what} at character ${i}`);
    };
    const ws = () => {
      while (i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
        else break;
      }
    };
    const value = (path) => {
      ws();
      const c = text[i];
      if (c === "{") return object(path);
      if (c === "[") return array(path);
      if (c === '"') return string();
      if (c === "-" || (c >= "0" && c <= "9")) return number(path);
      for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
        if (text.startsWith(word, i)) {
          i += word.length;
          return v;
        }
      }
      return fail("unexpected text");
    };
    const object = (path) => {
      const out = Object.create(null);
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        out[key] = value(path ? `${path}.${key}` : key);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        fail("expected ',' or '}'");
      }
    };
    const array = (path) => {
      const out = [];
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(`${path}[${out.length}]`));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail("expected ',' or ']'");
      }
    };
    const string = () => {
      i++;
      let out = "";
      let start = i;
      for (;;) {
        if (i >= text.length) fail("unterminated string");
        const c = text.charCodeAt(i);
        if (c === 0x22) {
          out += text.slice(start, i);
          i++;
          return out;
        }
        if (c < 0x20) fail("control character in a string");
        if (c === 0x5c) {
          out += text.slice(start, i);
          const e = text[i + 1];
          const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
          if (e in simple) {
            out += simple[e];
            i += 2;
          } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.substr(i + 2, 4))) {
            out += String.fromCharCode(parseInt(text.substr(i + 2, 4), 16));
            i += 6;
          } else {
            fail("bad escape");
          }
          start = i;
        } else {
          i++;
        }
      }
    };
    const number = (path) => {
      const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(text.slice(i, i + 400));
      if (!m) fail("bad number");
      if (m[1] || m[2]) {
        throw new FormatError(path || "JSON", "holds a number with a fraction or an exponent; drawkit entries hold integers only");
      }
      i += m[0].length;
      return BigInt(m[0]);
    };
    const out = value("");
    ws();
    if (i !== text.length) fail("text after the JSON value");
    return out;
  }

  // Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False):
  // keys sorted by code point, only '"', '\' and controls below U+0020 escaped.
  const SHORT_ESCAPES = { 0x22: '\\"', 0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0c: "\\f" };

  function jsonString(text) {
    let out = '"';
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c) {
        out += text.slice(start, i) + (SHORT_ESCAPES[c] || "\\u" + c.toString(16).padStart(4, "0"));
        start = i + 1;
      }
    }
    return out + text.slice(start) + '"';
  }

  // UTF-16 order differs from code point order only between surrogates (U+D800..DFFF)
  // and U+E000..FFFF: move the surrogates above them before comparing.
  function codeUnitRank(c) {
    if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
    if (c >= 0xe000) return c - 0x800;
    return c;
  }

  function compareCodePoints(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const x = a.charCodeAt(i);
      const y = b.charCodeAt(i);
      if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
    }
    return a.length - b.length;
  }

  function canonicalJson(value) {
    if (value === null) return "null";
    if (value === true) return "true";
    if (value === false) return "false";
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new FormatError("JSON", "a non-integer number cannot be hashed");
      return String(value);
    }
    if (typeof value === "string") return jsonString(value);
    if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
    const keys = Object.keys(value).sort(compareCodePoints);
    return "{" + keys.map((k) => jsonString(k) + ":" + canonicalJson(value[k])).join(",") + "}";
  }

  /** record_hash of a ledger entry: SHA-256 of its canonical JSON without record_hash. */
  async function entryHash(entry) {
    const body = Object.create(null);
    for (const k of Object.keys(entry)) if (k !== "record_hash") body[k] = entry[k];
    return bytesToHex(await sha256(utf8(canonicalJson(body))));
  }

  // ---------------------------------------------------------------- times

  const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/;

  /** An ISO 8601 time with an offset, as microseconds since the Unix epoch (BigInt). */
  function isoMicros(text, field) {
    const m = typeof text === "string" ? ISO.exec(text) : null;
    if (!m) throw new FormatError(field, "must be an ISO 8601 time with its offset (e.g. 2026-11-24T08:00:00.000000+00:00)");
    const [, y, mo, d, h, mi, s, frac, zone] = m;
    const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
    let micros = BigInt(ms) * 1000n + BigInt((frac || "").padEnd(6, "0") || "0");
    if (zone !== "Z") {
      const sign = zone[0] === "-" ? -1n : 1n;
      const offset = BigInt(+zone.slice(1, 3) * 3600 + +zone.slice(4, 6) * 60) * 1000000n;
      micros -= sign * offset;
    }
    return micros;
  }

  function microsToIso(micros) {
    const ms = Number(micros / 1000n);
    return new Date(ms).toISOString().replace(".000Z", "Z");
  }

  dv.FormatError = FormatError;
  dv.core = {
    hexToBytes, bytesToHex, utf8, concat, u32be, u64be, sha256, hmacSha256, equalBytes,
    parseJson, canonicalJson, compareCodePoints, entryHash, isoMicros, microsToIso,
  };
})((globalThis.DrawkitVerifier = globalThis.DrawkitVerifier || {}));
