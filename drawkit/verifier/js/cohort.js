/* drawkit verifier: participants files (spec 11.1), numbers and masks (11.3), the public
 * cohort list (11.4) and the canonical cohort with its digest (2.2, 2.3).
 *
 * Numbers are held as their 10-digit national number (a JS Number: < 10^10, exact), and
 * compared, sorted and masked from it; "+234" + those digits is the E.164 form. */
(function (dv) {
  "use strict";
  const { FormatError } = dv;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
  const INT63 = (1n << 63n) - 1n;

  // ---------------------------------------------------------------- numbers

  const SEPARATORS = /[\s\-./()\u00a0]/g;
  const FLOAT_TEXT = /^(\+?\d+)\.0+$/;

  /** The 10-digit national number of a written Nigerian number, or null (spec 11.1). */
  function nationalNumber(text) {
    let compact = String(text).trim().replace(FLOAT_TEXT, "$1").replace(SEPARATORS, "");
    if (compact.startsWith("+")) {
      if (!compact.startsWith("+234")) return null;
      compact = compact.slice(4);
    } else if (compact.startsWith("00234")) {
      compact = compact.slice(5);
    } else if (compact.startsWith("234") && (compact.length === 13 || compact.length === 14)) {
      compact = compact.slice(3);
    }
    if (compact.startsWith("0") && compact.length === 11) compact = compact.slice(1);
    return /^[0-9]{10}$/.test(compact) ? Number(compact) : null;
  }

  function nationalDigits(national) {
    return String(national).padStart(10, "0");
  }

  function e164(national) {
    return "+234" + nationalDigits(national);
  }

  /** 0803****567: "0" and the national number, its four middle digits hidden. */
  function mask(national) {
    const local = "0" + nationalDigits(national);
    return local.slice(0, 4) + "****" + local.slice(8);
  }

  /** The masked form of any written number; null when it is not a Nigerian number. */
  function maskOf(text) {
    const national = nationalNumber(text);
    return national === null ? null : mask(national);
  }

  const MASKED = /^0[0-9]{3}\*{4}[0-9]{3}$/;
  function isMasked(text) {
    return typeof text === "string" && text.includes("*");
  }

  // ---------------------------------------------------------------- CSV

  /** Chunks of bytes from a File/Blob, a ReadableStream, bytes or a string. */
  async function* chunksOf(source) {
    if (typeof source === "string") {
      yield dv.core.utf8(source);
    } else if (source instanceof Uint8Array) {
      yield source;
    } else {
      const stream = typeof source.stream === "function" ? source.stream() : source;
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    }
  }

  function decode(bytes, what) {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new FormatError(what, "is not UTF-8 text: save it as UTF-8 CSV");
    }
  }

  /**
   * Stream a CSV (RFC 4180 quoting, LF or CRLF, optional UTF-8 BOM, blank lines skipped)
   * and call onRow(rowNumber, cells) for each data row; cells[k] is {buf, start, end} of
   * column `columns[k]` (found by name in the header, names trimmed). Row numbers count
   * the header as row 1, as drawkit's messages do. `what` names the file in errors.
   */
  async function readCsv(source, columns, onRow, what, onProgress) {
    let carry = new Uint8Array(0);
    let header = null;
    let wanted = null;
    let row = 1;
    let first = true;
    let bytesRead = 0;
    const cells = columns.map(() => ({ buf: null, start: 0, end: 0 }));
    const fieldsOf = (buf, start, end) => splitLine(buf, start, end);

    const handleLine = (buf, start, end) => {
      if (end > start && buf[end - 1] === 0x0d) end--; // CRLF
      if (end === start) return; // blank line
      const fields = fieldsOf(buf, start, end);
      if (header === null) {
        header = fields.map((f) => decode(f.buf.subarray(f.start, f.end), what).trim());
        wanted = columns.map((c) => header.indexOf(c));
        const missing = columns.filter((_, k) => wanted[k] < 0);
        if (missing.length) {
          throw new FormatError(what, `lacks column(s) ${missing.join(", ")} (found: ${header.join(", ") || "none"})`);
        }
        return;
      }
      row++;
      if (fields.length !== header.length) {
        throw new FormatError(what, `row ${row} has ${fields.length} field(s), the header has ${header.length}`);
      }
      for (let k = 0; k < columns.length; k++) {
        const f = fields[wanted[k]];
        cells[k].buf = f.buf;
        cells[k].start = f.start;
        cells[k].end = f.end;
      }
      onRow(row, cells);
    };

    for await (let chunk of chunksOf(source)) {
      bytesRead += chunk.length;
      if (first) {
        first = false;
        if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      }
      let buf = chunk;
      if (carry.length) {
        buf = new Uint8Array(carry.length + chunk.length);
        buf.set(carry);
        buf.set(chunk, carry.length);
      }
      let start = 0;
      let quoted = false;
      for (let i = 0; i < buf.length; i++) {
        const c = buf[i];
        if (c === 0x22) quoted = !quoted;
        else if (c === 0x0a && !quoted) {
          handleLine(buf, start, i);
          start = i + 1;
        }
      }
      carry = buf.slice(start);
      if (onProgress) onProgress(bytesRead, row - 1);
    }
    if (carry.length) handleLine(carry, 0, carry.length);
    if (header === null) throw new FormatError(what, "is empty: it has no header line");
    return row - 1;
  }

  /** Split one line into fields; a quoted field is unescaped into its own bytes. */
  function splitLine(buf, start, end) {
    const out = [];
    let i = start;
    for (;;) {
      if (i < end && buf[i] === 0x22) {
        const bytes = [];
        i++;
        for (;;) {
          if (i >= end) break;
          if (buf[i] === 0x22) {
            if (i + 1 < end && buf[i + 1] === 0x22) {
              bytes.push(0x22);
              i += 2;
              continue;
            }
            i++;
            break;
          }
          bytes.push(buf[i++]);
        }
        while (i < end && buf[i] !== 0x2c) bytes.push(buf[i++]); // text after a closing quote
        const own = Uint8Array.from(bytes);
        out.push({ buf: own, start: 0, end: own.length });
      } else {
        let j = i;
        while (j < end && buf[j] !== 0x2c) j++;
        out.push({ buf, start: i, end: j });
        i = j;
      }
      if (i >= end) return out;
      i++; // the comma
      if (i === end) {
        out.push({ buf, start: end, end });
        return out;
      }
    }
  }

  /** A growable column of entries: Float64Array while every value is <= 2^53 - 1. */
  class EntryColumn {
    constructor() {
      this.values = new Float64Array(1024);
      this.big = null;
      this.length = 0;
    }

    push(value) {
      if (this.length === this.capacity()) this.grow();
      if (this.big) this.big[this.length++] = BigInt(value);
      else if (typeof value === "bigint" && value > MAX_SAFE) {
        this.big = new BigInt64Array(this.values.length);
        for (let i = 0; i < this.length; i++) this.big[i] = BigInt(this.values[i]);
        this.big[this.length++] = value;
      } else this.values[this.length++] = Number(value);
    }

    capacity() {
      return this.big ? this.big.length : this.values.length;
    }

    grow() {
      if (this.big) {
        const next = new BigInt64Array(this.big.length * 2);
        next.set(this.big);
        this.big = next;
      } else {
        const next = new Float64Array(this.values.length * 2);
        next.set(this.values);
        this.values = next;
      }
    }

    at(i) {
      return this.big ? this.big[i] : this.values[i];
    }
  }

  function growFloat(array) {
    const next = new Float64Array(array.length * 2);
    next.set(array);
    return next;
  }

  /** Entries of a cell: decimal digits (a trailing .0 allowed), at least 1 (spec 11.1). */
  function cellEntries(cell, row, what, shown) {
    const { buf, start, end } = cell;
    let value = 0;
    let plain = end > start && end - start <= 15;
    for (let i = start; plain && i < end; i++) {
      const d = buf[i] - 0x30;
      if (d < 0 || d > 9) plain = false;
      else value = value * 10 + d;
    }
    if (plain) {
      if (value < 1) throw new FormatError(what, `row ${row} column entries: entries must be at least 1 (${shown()})`);
      return value;
    }
    const text = decode(buf.subarray(start, end), what).trim();
    const m = /^([0-9]+)(?:\.0+)?$/.exec(text);
    if (!m) throw new FormatError(what, `row ${row} column entries: '${text.slice(0, 24)}' is not a positive whole number (${shown()})`);
    const big = BigInt(m[1]);
    if (big < 1n) throw new FormatError(what, `row ${row} column entries: entries must be at least 1 (${shown()})`);
    if (big > INT63) throw new FormatError(what, `row ${row} column entries: entries exceed 2^63 - 1 (${shown()})`);
    return big <= MAX_SAFE ? Number(big) : big;
  }

  /** A participants file (msisdn, entries; spec 11.1) as national numbers and entries. */
  async function readParticipants(source, onProgress) {
    const what = "participants file";
    let national = new Float64Array(1024);
    const entries = new EntryColumn();
    let n = 0;
    const rows = await readCsv(source, ["msisdn", "entries"], (row, [m, e]) => {
      let number = -1;
      if (m.end - m.start === 14 && m.buf[m.start] === 0x2b && m.buf[m.start + 1] === 0x32 &&
          m.buf[m.start + 2] === 0x33 && m.buf[m.start + 3] === 0x34) {
        number = 0;
        for (let i = m.start + 4; i < m.end; i++) {
          const d = m.buf[i] - 0x30;
          if (d < 0 || d > 9) {
            number = -1;
            break;
          }
          number = number * 10 + d;
        }
      }
      if (number < 0) {
        const text = decode(m.buf.subarray(m.start, m.end), what);
        const found = text.trim() === "" ? null : nationalNumber(text);
        if (found === null) {
          const reason = text.trim() === "" ? "missing phone number" : "not a Nigerian phone number";
          throw new FormatError(what, `row ${row} column msisdn: ${reason} (${maskText(text)})`);
        }
        number = found;
      }
      if (n === national.length) national = growFloat(national);
      national[n++] = number;
      entries.push(cellEntries(e, row, what, () => mask(number)));
    }, what, onProgress);
    return { national: national.subarray(0, n), entries, size: rows };
  }

  /** A bad value shown the way drawkit's errors show it: at most 2 characters each end. */
  function maskText(text) {
    const t = String(text).trim();
    const m = maskOf(t);
    if (m) return m;
    return t.length <= 4 ? "*".repeat(t.length) : t.slice(0, 2) + "*".repeat(t.length - 4) + t.slice(-2);
  }

  /** The public cohort list (spec 11.4): masked numbers and entries, in canonical order. */
  async function readPublicCohort(source, onProgress) {
    const what = "public cohort list";
    const masks = [];
    const entries = new EntryColumn();
    await readCsv(source, ["msisdn_masked", "entries"], (row, [m, e]) => {
      const text = decode(m.buf.subarray(m.start, m.end), what).trim();
      if (!MASKED.test(text)) throw new FormatError(what, `row ${row} column msisdn_masked: not a masked number like 0803****567`);
      masks.push(text);
      entries.push(cellEntries(e, row, what, () => text));
    }, what, onProgress);
    let total = 0n;
    let partial = 0;
    for (let i = 0; i < masks.length; i++) {
      const v = entries.at(i);
      if (typeof v === "bigint") total += v;
      else if (partial + v > Number.MAX_SAFE_INTEGER) {
        total += BigInt(partial);
        partial = v;
      } else partial += v;
    }
    total += BigInt(partial);
    return { masks, entries, size: masks.length, total, entryAt: (i) => entries.at(i) };
  }

  // ---------------------------------------------------------------- canonical cohort

  /** Indices 0..n-1 ordered by key (keys < 2^34): two counting passes of 17 bits. */
  function sortedOrder(keys, n) {
    const LOW = 1 << 17;
    let order = new Uint32Array(n);
    let next = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (const digit of [(k) => k % LOW, (k) => Math.floor(k / LOW)]) {
      const count = new Uint32Array(LOW + 1);
      for (let i = 0; i < n; i++) count[digit(keys[order[i]]) + 1]++;
      for (let b = 0; b < LOW; b++) count[b + 1] += count[b];
      for (let i = 0; i < n; i++) next[count[digit(keys[order[i]])]++] = order[i];
      [order, next] = [next, order];
    }
    return order;
  }

  function decimalLength(v) {
    if (typeof v === "bigint") return v.toString().length;
    let len = 1;
    while (v >= 10) {
      v = Math.floor(v / 10);
      len++;
    }
    return len;
  }

  /**
   * The canonical cohort (section 2.2) of parsed participants minus `excluded` (a Set of
   * national numbers): {size, national(i), entryAt(i), total, digest, index(national)}.
   * Throws FormatError for an empty cohort, a duplicate number or W >= 2^63.
   */
  async function canonicalCohort(parsed, excluded) {
    const { national, entries } = parsed;
    let keep = [];
    let keys = national;
    let source = null;
    if (excluded && excluded.size) {
      source = [];
      for (let i = 0; i < national.length; i++) if (!excluded.has(national[i])) source.push(i);
      keys = Float64Array.from(source, (i) => national[i]);
    }
    const n = keys.length;
    if (n === 0) throw new FormatError("participants", "the cohort is empty: no participant to draw from");
    const order = sortedOrder(keys, n);
    const at = source ? (j) => source[order[j]] : (j) => order[j];
    keep = new Uint32Array(n);
    for (let j = 0; j < n; j++) keep[j] = at(j);
    let total = 0n;
    let partial = 0;
    let length = 0;
    for (let j = 0; j < n; j++) {
      const here = national[keep[j]];
      if (j > 0 && here === national[keep[j - 1]]) {
        throw new FormatError("participants", `duplicate msisdn ${mask(here)}: each participant must appear once with their total entries`);
      }
      const v = entries.at(keep[j]);
      if (typeof v === "bigint") total += v;
      else if (partial + v > Number.MAX_SAFE_INTEGER) {
        total += BigInt(partial);
        partial = v;
      } else partial += v;
      length += 16 + decimalLength(v);
    }
    total += BigInt(partial);
    if (total > INT63) throw new FormatError("participants", `total entries ${total} exceed 2^63 - 1`);
    const bytes = new Uint8Array(length);
    let p = 0;
    for (let j = 0; j < n; j++) {
      bytes[p++] = 0x2b; // +234
      bytes[p++] = 0x32;
      bytes[p++] = 0x33;
      bytes[p++] = 0x34;
      let num = national[keep[j]];
      for (let d = 9; d >= 0; d--) {
        bytes[p + d] = 0x30 + (num % 10);
        num = Math.floor(num / 10);
      }
      p += 10;
      bytes[p++] = 0x2c;
      const v = entries.at(keep[j]);
      const len = decimalLength(v);
      if (typeof v === "bigint") {
        const s = v.toString();
        for (let d = 0; d < len; d++) bytes[p + d] = s.charCodeAt(d);
      } else {
        let x = v;
        for (let d = len - 1; d >= 0; d--) {
          bytes[p + d] = 0x30 + (x % 10);
          x = Math.floor(x / 10);
        }
      }
      p += len;
      bytes[p++] = 0x0a;
    }
    const digest = dv.core.bytesToHex(await dv.core.sha256(bytes));
    return {
      size: n,
      total,
      digest,
      national: (j) => national[keep[j]],
      entryAt: (j) => entries.at(keep[j]),
      /** canonical position of a national number, or -1 (binary search). */
      indexOf(number) {
        let lo = 0;
        let hi = n - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          const v = national[keep[mid]];
          if (v === number) return mid;
          if (v < number) lo = mid + 1;
          else hi = mid - 1;
        }
        return -1;
      },
      lines: () => new TextDecoder().decode(bytes),
    };
  }

  // A mask shows the national number's first 3 and last 3 digits: key them as one integer.
  const maskKey = (national) => Math.floor(national / 1e7) * 1000 + (national % 1000);

  /** For each masked number, the file's numbers that carry that mask (one pass). */
  function numbersWithMasks(parsed, masks) {
    const byKey = new Map();
    const out = new Map();
    for (const m of masks) {
      out.set(m, []);
      if (MASKED.test(m)) byKey.set(Number(m.slice(1, 4)) * 1000 + Number(m.slice(8)), m);
    }
    for (let i = 0; i < parsed.national.length; i++) {
      const m = byKey.get(maskKey(parsed.national[i]));
      if (m !== undefined) out.get(m).push(parsed.national[i]);
    }
    return out;
  }

  dv.cohort = {
    nationalNumber, e164, mask, maskOf, isMasked, readCsv, readParticipants, readPublicCohort,
    canonicalCohort, numbersWithMasks, maskText,
  };
})((globalThis.DrawkitVerifier = globalThis.DrawkitVerifier || {}));
