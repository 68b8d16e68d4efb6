// The UW/c-client mbox format: `From ` separator lines, mboxrd quoting and the status headers that
// carry flags, UIDs and the mailbox's UIDVALIDITY (Decision 1). Pure functions over bytes; no I/O.

export const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;

export const FLAG_SEEN = 1;
export const FLAG_ANSWERED = 2;
export const FLAG_FLAGGED = 4;
export const FLAG_DELETED = 8;
export const FLAG_DRAFT = 16;
/** `Status: O`: some session has seen the message arrive, so it is no longer \Recent for anyone. */
export const FLAG_OLD = 32;

export const SYSTEM_FLAGS: ReadonlyArray<[string, number]> = [
  ['\\Seen', FLAG_SEEN], ['\\Answered', FLAG_ANSWERED], ['\\Flagged', FLAG_FLAGGED],
  ['\\Deleted', FLAG_DELETED], ['\\Draft', FLAG_DRAFT],
];

/** Headers that belong to the mailbox, not the message: stripped from what clients see (UW, Dovecot). */
export const INTERNAL_HEADERS = new Set(['status', 'x-status', 'x-keywords', 'x-uid', 'x-imap', 'x-imapbase', 'content-length']);

export const PSEUDO_SUBJECT = "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA";

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

// asctime with or without zero-padded day, optional seconds, optional zone before or after the year,
// optional UUCP "remote from host" tail.
const FROM_DATE = /(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) +(\d{1,2}):(\d{2})(?::(\d{2}))?(?: +([A-Z]{1,5}|[+-]\d{4}))? +(\d{4})(?: +([+-]\d{4}|[A-Z]{1,5}))?(?: +remote from \S+)? *$/i;

/** If [s, e) (without its line ending) is a plausible `From ` line, its INTERNALDATE; else null. */
export function parseFromLine(buf: Buffer, s: number, e: number): Date | null {
  if (e - s < 5 + 18 || buf[s] !== 0x46 || buf[s + 1] !== 0x72 || buf[s + 2] !== 0x6f || buf[s + 3] !== 0x6d || buf[s + 4] !== 0x20) return null;
  // A From line is short; never run the regex over a megabyte of garbage.
  const text = buf.toString('latin1', s + 5, Math.min(e, s + 1000));
  const m = FROM_DATE.exec(text);
  if (!m) return null;
  const mon = MONTHS[m[1]!.toLowerCase()]!;
  const day = Number(m[2]);
  const hh = Number(m[3]);
  const mm = Number(m[4]);
  const ss = Number(m[5] ?? 0);
  const year = Number(m[7]);
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return null;
  const zone = [m[6], m[8]].find((z) => z && /^[+-]\d{4}$/.test(z));
  let t: number;
  if (zone) {
    const off = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * (zone[0] === '-' ? -1 : 1);
    t = Date.UTC(year, mon, day, hh, mm, ss) - off * 60_000;
  } else {
    // UW reads a zone-less From line as server local time, as DMail wrote it.
    t = new Date(year, mon, day, hh, mm, ss).getTime();
  }
  return Number.isFinite(t) ? new Date(t) : null;
}

/** asctime in local time with a zero-padded day, as DMail's DSMTP writes it. */
export function formatFromDate(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

/** End of the line content: before '\n' or '\r\n'. */
export function contentEnd(buf: Buffer, s: number, e: number): number {
  let c = e;
  if (c > s && buf[c - 1] === LF) {
    c--;
    if (c > s && buf[c - 1] === CR) c--;
  }
  return c;
}

/** mboxrd: a line `>*From ` has one level of quoting added on write. */
export function isQuotedFrom(buf: Buffer, s: number, e: number): boolean {
  if (buf[s] !== GT) return false;
  let i = s;
  while (i < e && buf[i] === GT) i++;
  return e - i >= 5 && buf[i] === 0x46 && buf[i + 1] === 0x72 && buf[i + 2] === 0x6f && buf[i + 3] === 0x6d && buf[i + 4] === 0x20;
}

export function needsQuoting(buf: Buffer, s: number, e: number): boolean {
  let i = s;
  while (i < e && buf[i] === GT) i++;
  return e - i >= 5 && buf[i] === 0x46 && buf[i + 1] === 0x72 && buf[i + 2] === 0x6f && buf[i + 3] === 0x6d && buf[i + 4] === 0x20;
}

/** Lower-case header name of a header line, or '' for a continuation or malformed line. */
export function headerName(buf: Buffer, s: number, e: number): string {
  const c = buf[s];
  if (c === 0x20 || c === 0x09) return '';
  const lim = Math.min(e, s + 80);
  for (let i = s; i < lim; i++) {
    const b = buf[i];
    if (b === 0x3a) return buf.toString('latin1', s, i).trimEnd().toLowerCase();
    if (b === LF || b === CR) return '';
  }
  return '';
}

export interface HeaderLine {
  /** Byte range of the whole field including continuation lines and its line ending. */
  start: number;
  end: number;
  name: string;
}

/** The layout of one stored message (raw bytes starting with its `From ` line). */
export interface MessageLayout {
  fromEnd: number;
  headers: HeaderLine[];
  /** Start of the blank line ending the header, or -1 if the message has no body separator. */
  blankStart: number;
  bodyStart: number;
  /** Bytes of the trailing separator blank line (0 when the message has none). */
  sepLen: number;
  crlf: boolean;
}

export function layoutOf(raw: Buffer): MessageLayout {
  let pos = raw.indexOf(LF);
  const fromEnd = pos < 0 ? raw.length : pos + 1;
  const crlf = pos > 0 && raw[pos - 1] === CR;
  const headers: HeaderLine[] = [];
  let blankStart = -1;
  pos = fromEnd;
  while (pos < raw.length) {
    const nl = raw.indexOf(LF, pos);
    const e = nl < 0 ? raw.length : nl + 1;
    if (contentEnd(raw, pos, e) === pos && nl >= 0) { blankStart = pos; pos = e; break; }
    const name = headerName(raw, pos, e);
    const last = headers[headers.length - 1];
    if (!name && last) last.end = e;
    else headers.push({ start: pos, end: e, name });
    pos = e;
  }
  const bodyStart = blankStart < 0 ? raw.length : pos;
  // The blank line before the next `From ` (or at end of file) separates messages; it is not content.
  let sepLen = 0;
  if (raw.length >= 2 && raw[raw.length - 1] === LF) {
    const lastStart = raw.lastIndexOf(LF, raw.length - 2) + 1;
    if (lastStart >= bodyStart && contentEnd(raw, lastStart, raw.length) === lastStart && lastStart > 0) {
      sepLen = raw.length - lastStart;
    }
  }
  return { fromEnd, headers, blankStart, bodyStart, sepLen, crlf };
}

/** What the client sees: no From line, no internal headers, unquoted, CRLF line endings. Built in one
 *  buffer of the exact size (clientSize), line by line without a Buffer object per line. */
export function clientView(raw: Buffer, layout: MessageLayout = layoutOf(raw)): Buffer {
  const end = raw.length - layout.sepLen;
  const out = Buffer.allocUnsafe(clientSize(raw, layout));
  let o = 0;
  const copyLines = (s: number, e: number) => {
    let pos = s;
    while (pos < e) {
      const nl = raw.indexOf(LF, pos);
      const le = nl < 0 || nl >= e ? e : nl + 1;
      const ce = contentEnd(raw, pos, le);
      const from = isQuotedFrom(raw, pos, ce) ? pos + 1 : pos;
      if (ce - from < 32) for (let i = from; i < ce; i++) out[o++] = raw[i]!;
      else o += raw.copy(out, o, from, ce);
      if (le > ce) {
        out[o++] = CR;
        out[o++] = LF;
      }
      pos = le;
    }
  };
  for (const h of layout.headers) {
    if (INTERNAL_HEADERS.has(h.name)) continue;
    copyLines(h.start, Math.min(h.end, end));
  }
  if (layout.blankStart >= 0 && layout.blankStart < end) copyLines(layout.blankStart, end);
  return o === out.length ? out : out.subarray(0, o);
}

/** clientView(raw).length without building it (the parser computes RFC822.SIZE of every message). */
export function clientSize(raw: Buffer, layout: MessageLayout = layoutOf(raw)): number {
  const end = raw.length - layout.sepLen;
  let size = 0;
  const countLines = (s: number, e: number) => {
    let pos = s;
    while (pos < e) {
      const nl = raw.indexOf(LF, pos);
      const le = nl < 0 || nl >= e ? e : nl + 1;
      const ce = contentEnd(raw, pos, le);
      size += ce - pos - (isQuotedFrom(raw, pos, ce) ? 1 : 0) + (le > ce ? 2 : 0);
      pos = le;
    }
  };
  for (const h of layout.headers) {
    if (INTERNAL_HEADERS.has(h.name)) continue;
    countLines(h.start, Math.min(h.end, end));
  }
  if (layout.blankStart >= 0 && layout.blankStart < end) countLines(layout.blankStart, end);
  return size;
}

export interface StatusFields {
  flags: number;
  keywords: string[];
  uid: number;
  /** X-IMAPbase / X-IMAP: uidvalidity, uidnext (the header's last assigned UID + 1) and the keyword list. */
  base?: { uidValidity: number; uidNext: number; keywords: string[] };
  pseudo: boolean;
  uidl?: string;
}

/** Read the status headers of one message. */
export function statusOf(raw: Buffer, layout: MessageLayout): StatusFields {
  const out: StatusFields = { flags: 0, keywords: [], uid: 0, pseudo: false };
  let internalSubject = false;
  let internalSender = raw.toString('latin1', 0, 20).startsWith('From MAILER-DAEMON ');
  for (const h of layout.headers) {
    if (!INTERNAL_HEADERS.has(h.name) && h.name !== 'subject' && h.name !== 'x-uidl' && h.name !== 'from') continue;
    const line = raw.toString('latin1', h.start, Math.min(h.end, h.start + 64 * 1024));
    const value = line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]*/g, ' ').trim();
    if (h.name === 'subject') internalSubject = value.includes(PSEUDO_SUBJECT);
    else if (h.name === 'from') internalSender ||= value.includes('Mail System Internal Data');
    else applyStatusField(out, h.name, value);
  }
  // UW's hidden message: X-IMAP, or its subject from its sender (a user's mail with that subject stays visible).
  if (internalSubject && internalSender) out.pseudo = true;
  return out;
}

export function applyStatusField(out: StatusFields, name: string, value: string): void {
  switch (name) {
    case 'status':
      if (value.includes('R')) out.flags |= FLAG_SEEN;
      if (value.includes('O')) out.flags |= FLAG_OLD;
      break;
    case 'x-status':
      if (value.includes('A')) out.flags |= FLAG_ANSWERED;
      if (value.includes('F')) out.flags |= FLAG_FLAGGED;
      if (value.includes('T')) out.flags |= FLAG_DRAFT;
      if (value.includes('D')) out.flags |= FLAG_DELETED;
      break;
    case 'x-keywords':
      out.keywords = value.split(/[\s,]+/).filter((k) => k && isAtomKeyword(k));
      break;
    case 'x-uid': {
      const n = Number(value);
      out.uid = Number.isInteger(n) && n > 0 && n < 2 ** 32 ? n : 0;
      break;
    }
    case 'x-imap':
    case 'x-imapbase': {
      // `<uidvalidity> <last UID assigned>` (UW c-client and Dovecot write the last UID, not the next).
      const [v, n, ...kw] = value.split(/\s+/);
      const uidValidity = Number(v);
      const lastUid = n !== undefined && /^\d{1,10}$/.test(n) ? Number(n) : NaN;
      if (Number.isInteger(uidValidity) && uidValidity > 0 && uidValidity < 2 ** 32) {
        out.base = { uidValidity, uidNext: lastUid >= 0 && lastUid < 2 ** 32 - 1 ? lastUid + 1 : 1, keywords: kw.filter(isAtomKeyword) };
      }
      if (name === 'x-imap') out.pseudo = true;
      break;
    }
    case 'x-uidl':
      if (value && value.length <= 70) out.uidl = value;
      break;
  }
}

export function isAtomKeyword(k: string): boolean {
  return /^[!#$&'+\-.0-9:;<=>?@A-Z^_`a-z|~]+$/.test(k) && k.length <= 100;
}

/**
 * Status header lines (without the X-IMAPbase) for flags/keywords/uid, UW letters. Padded like UW and
 * Dovecot do, so a later flag change usually keeps the message's length and can be written in place
 * instead of shifting the rest of the spool: letters padded with spaces, X-Keywords padded to a
 * multiple of 32 characters. Readers ignore the spaces.
 */
export function statusHeaders(flags: number, keywords: readonly string[], uid: number, nl: string): string {
  const status = `${flags & FLAG_SEEN ? 'R' : ''}${flags & FLAG_OLD ? 'O' : ''}`.padEnd(2);
  const x = `${flags & FLAG_ANSWERED ? 'A' : ''}${flags & FLAG_FLAGGED ? 'F' : ''}${flags & FLAG_DRAFT ? 'T' : ''}${flags & FLAG_DELETED ? 'D' : ''}`.padEnd(4);
  const kw = keywords.join(' ');
  let s = `Status: ${status}${nl}X-Status: ${x}${nl}`;
  s += `X-Keywords: ${kw.padEnd(Math.max(32, Math.ceil(kw.length / 32) * 32))}${nl}`;
  if (uid > 0) s += `X-UID: ${uid}${nl}`;
  return s;
}

/** X-IMAPbase / X-IMAP: `<uidvalidity> <last UID assigned>` (UIDNEXT - 1, as UW c-client and Dovecot write
 *  it) zero-padded, and the keyword list space-padded (fixed length for in-place updates). */
export function baseHeader(name: string, base: { uidValidity: number; uidNext: number; keywords: readonly string[] }, nl: string): string {
  const kw = base.keywords.join(' ');
  return `${name}: ${base.uidValidity} ${String(Math.max(0, base.uidNext - 1)).padStart(10, '0')} ${kw.padEnd(Math.max(32, Math.ceil(kw.length / 32) * 32))}${nl}`;
}

/**
 * Rewrite one stored message with new status headers. Everything else (From line, other headers, body,
 * line endings) is kept byte for byte. `base` puts the mailbox state in X-IMAPbase (or X-IMAP for the
 * hidden pseudo-message). The result always ends with a separator blank line.
 */
export function restamp(
  raw: Buffer,
  st: { flags: number; keywords: readonly string[]; uid: number },
  base: { header: 'X-IMAP' | 'X-IMAPbase'; uidValidity: number; uidNext: number; keywords: readonly string[] } | null,
  layout: MessageLayout = layoutOf(raw),
): Buffer {
  const nl = layout.crlf ? '\r\n' : '\n';
  const parts: Buffer[] = [raw.subarray(0, layout.fromEnd)];
  for (const h of layout.headers) {
    if (h.name === 'status' || h.name === 'x-status' || h.name === 'x-keywords' || h.name === 'x-uid' || h.name === 'x-imap' || h.name === 'x-imapbase') continue;
    let chunk = raw.subarray(h.start, h.end);
    // A header block that ends the message without a newline: complete the line before adding ours.
    if (chunk.length && chunk[chunk.length - 1] !== LF) chunk = Buffer.concat([chunk, Buffer.from(nl)]);
    parts.push(chunk);
  }
  let add = '';
  if (base) add += baseHeader(base.header, base, nl);
  add += statusHeaders(st.flags, st.keywords, st.uid, nl);
  parts.push(Buffer.from(add, 'latin1'));
  if (layout.blankStart >= 0) {
    parts.push(raw.subarray(layout.blankStart));
  } else {
    parts.push(Buffer.from(nl));
  }
  return withSeparator(Buffer.concat(parts), nl);
}

/** Make sure a stored message ends with a line ending plus the blank separator line. */
export function withSeparator(b: Buffer, nl: string): Buffer {
  const l = layoutOf(b);
  if (l.sepLen > 0 && l.bodyStart <= b.length - l.sepLen) return b;
  if (b.length && b[b.length - 1] === LF) return Buffer.concat([b, Buffer.from(nl)]);
  return Buffer.concat([b, Buffer.from(nl + nl)]);
}

/** A client's message as stored by APPEND: LF endings, mboxrd-quoted, internal headers replaced. */
export function storedForm(
  message: Buffer, date: Date, st: { flags: number; keywords: readonly string[]; uid: number },
  base: { uidValidity: number; uidNext: number; keywords: readonly string[] } | null,
): Buffer {
  // Written straight into one buffer (no Buffer per line: a 100-message MULTIAPPEND made ~5000 small
  // objects here). The output is at most the message plus one byte per line ('>' quoting, or the LF
  // a last line without one gets) plus the From line, our headers and the separator; it only grows
  // when quoting outnumbers the CRs dropped, which `room` handles.
  const fromLine = `From MAILER-DAEMON ${formatFromDate(date)}\n`;
  let add = '';
  if (base) add += baseHeader('X-IMAPbase', base, '\n');
  add += statusHeaders(st.flags, st.keywords, st.uid, '\n');
  let out = Buffer.allocUnsafe(Buffer.byteLength(fromLine, 'latin1') + Buffer.byteLength(add, 'latin1') + message.length + 64);
  let len = out.write(fromLine, 0, 'latin1');
  const room = (n: number) => {
    if (len + n <= out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, len + n));
    out.copy(bigger, 0, 0, len);
    out = bigger;
  };
  const finishHeader = () => {
    room(add.length);
    len += out.write(add, len, 'latin1');
  };
  let pos = 0;
  let inHeader = true;
  let skipping = false;
  while (pos < message.length) {
    const nl = message.indexOf(LF, pos);
    const le = nl < 0 ? message.length : nl + 1;
    const ce = contentEnd(message, pos, le);
    if (inHeader) {
      if (ce === pos) { finishHeader(); inHeader = false; room(1); out[len++] = LF; pos = le; continue; }
      const name = headerName(message, pos, ce);
      if (name) skipping = INTERNAL_HEADERS.has(name);
      if (skipping) { pos = le; continue; }
    }
    room(ce - pos + 2);
    if (needsQuoting(message, pos, ce)) out[len++] = GT;
    len += message.copy(out, len, pos, ce);
    out[len++] = LF;
    pos = le;
  }
  if (inHeader) { finishHeader(); room(1); out[len++] = LF; }
  room(1);
  out[len++] = LF;
  return out.subarray(0, len);
}
