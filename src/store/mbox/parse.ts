// Splitting a spool into messages. Reads the file in large chunks so a big spool never has to sit in
// memory whole; a message is only held whole while it is measured.

import { readSync } from 'node:fs';
import { LF, parseFromLine, layoutOf, clientSize, statusOf } from './format.js';

export interface ParsedMessage {
  offset: number;
  end: number;
  size: number;
  /** INTERNALDATE in ms. */
  date: number;
  flags: number;
  keywords: string[];
  fileUid: number;
  /** Hash of the message's first bytes: recognises a message again after a full re-parse. */
  key: number;
  uidl?: string;
  base?: { uidValidity: number; uidNext: number; keywords: string[] };
  pseudo: boolean;
}

export interface ParseResult {
  /** Bytes before the first `From ` line (garbage we keep but never show). */
  preambleEnd: number;
  messages: ParsedMessage[];
}

const CHUNK = 8 * 1024 * 1024;

export function fnv1a(buf: Buffer, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function measure(raw: Buffer, offset: number): ParsedMessage {
  const layout = layoutOf(raw);
  const fromLineEnd = layout.fromEnd - (raw[layout.fromEnd - 1] === LF ? 1 : 0);
  const date = parseFromLine(raw, 0, fromLineEnd);
  const st = statusOf(raw, layout);
  const m: ParsedMessage = {
    offset,
    end: offset + raw.length,
    size: clientSize(raw, layout),
    date: date ? date.getTime() : 0,
    flags: st.flags,
    keywords: st.keywords,
    fileUid: st.uid,
    key: fnv1a(raw, 0, Math.min(raw.length, 512)),
    pseudo: st.pseudo,
  };
  if (st.uidl) m.uidl = st.uidl;
  if (st.base) m.base = st.base;
  return m;
}

/** Does a `From ` line start at `p` of `win` (which starts at a line start)? */
function boundaryAt(win: Buffer, p: number, first: boolean): boolean {
  if (p > 0) {
    if (win[p - 1] !== LF) return false;
    // mbox: a separator follows a blank line. The first one may follow garbage directly.
    const blank = p >= 2 && (win[p - 2] === LF || (win[p - 2] === 0x0d && p >= 3 && win[p - 3] === LF));
    if (!blank && !first) return false;
  }
  const nl = win.indexOf(LF, p);
  let e = nl < 0 ? win.length : nl;
  if (e > p && win[e - 1] === 0x0d) e--;
  return parseFromLine(win, p, e) !== null;
}

/**
 * Parse [from, to) of the spool open on `fd`. `from` must be 0 or the offset of a `From ` line
 * (returns null if it is not: the caller's index is wrong and it must parse the whole file).
 */
export function parseSpool(fd: number, from: number, to: number): ParseResult | null {
  const messages: ParsedMessage[] = [];
  let preambleEnd = -1;
  let win = Buffer.alloc(0);
  let winStart = from;
  let pos = from;
  let eof = false;
  let cur = -1;
  let scanFrom = 0;
  const readMore = (): void => {
    const n = Math.min(CHUNK, to - pos);
    if (n <= 0) { eof = true; return; }
    const chunk = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, chunk, got, n - got, pos + got);
      if (r <= 0) break;
      got += r;
    }
    pos += got;
    if (got === 0) { eof = true; return; }
    win = win.length ? Buffer.concat([win, chunk.subarray(0, got)]) : chunk.subarray(0, got);
  };
  readMore();
  while (!eof && win.indexOf(LF) < 0) readMore();
  if (boundaryAt(win, 0, true)) cur = 0;
  else if (from > 0) return null;
  for (;;) {
    const i = win.indexOf('\nFrom ', scanFrom, 'latin1');
    const p = i + 1;
    if (i >= 0 && (eof || win.indexOf(LF, p) >= 0)) {
      scanFrom = p;
      if (boundaryAt(win, p, cur < 0)) {
        if (cur >= 0) messages.push(measure(win.subarray(cur, p), winStart + cur));
        else preambleEnd = winStart + p;
        cur = p;
      }
      continue;
    }
    if (eof) break;
    // Need more bytes. Keep the current message (or a few bytes of preamble for the blank-line check).
    if (i < 0) scanFrom = Math.max(scanFrom, win.length - 5);
    else scanFrom = i;
    const trim = cur >= 0 ? cur : Math.max(0, Math.min(scanFrom, win.length) - 3);
    if (trim > 0) {
      win = win.subarray(trim);
      winStart += trim;
      scanFrom -= trim;
      if (cur >= 0) cur -= trim;
    }
    readMore();
  }
  if (cur >= 0) messages.push(measure(win.subarray(cur), winStart + cur));
  preambleEnd = messages.length ? messages[0]!.offset : winStart + win.length;
  return { preambleEnd, messages };
}
