// Splitting a spool into messages. Reads the file in bounded windows and measures each message as it
// streams past (meter.ts), so neither a big spool nor a big message ever sits in memory whole.

import { readSync } from 'node:fs';
import { LF, parseFromLine } from './format.js';
import { MessageMeter } from './meter.js';
import { runPaced, runSteps, SLICE_MS, type Steps } from '../pace.js';

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

const CHUNK = 2 * 1024 * 1024;
/** A `From ` line longer than this is not a separator (parseFromLine reads only 1000 bytes of it). */
const MAX_FROM_LINE = 1000;

export function fnv1a(buf: Buffer, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Measure one whole stored message (the streaming parser feeds a MessageMeter piece by piece). */
export function measure(raw: Buffer, offset: number): ParsedMessage {
  const meter = new MessageMeter();
  meter.feed(raw);
  return toParsed(meter, offset, offset + raw.length);
}

function toParsed(meter: MessageMeter, offset: number, end: number): ParsedMessage {
  const r = meter.finish();
  const st = r.status;
  const m: ParsedMessage = {
    offset, end, size: r.size, date: r.date, flags: st.flags, keywords: st.keywords, fileUid: st.uid,
    key: r.key, pseudo: st.pseudo,
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
  if (e - p > MAX_FROM_LINE + 1) return false;
  if (e > p && win[e - 1] === 0x0d) e--;
  return parseFromLine(win, p, e) !== null;
}

/**
 * Parse [from, to) of the spool open on `fd`. `from` must be 0 or the offset of a `From ` line
 * (returns null if it is not: the caller's index is wrong and it must parse the whole file).
 */
export function parseSpool(fd: number, from: number, to: number): ParseResult | null {
  return runSteps(parseSteps(fd, from, to));
}

/**
 * parseSpool that lets the event loop turn at least every `sliceMs` of work (between chunks), so the
 * other sessions of a process serving many (issue 12) are not held for a whole 100,000-message spool.
 * The caller holds the spool lock throughout, so nothing changes the file between the slices.
 */
export async function parseSpoolYielding(fd: number, from: number, to: number, sliceMs = SLICE_MS): Promise<ParseResult | null> {
  return runPaced(parseSteps(fd, from, to), sliceMs);
}

/** The parse, one chunk per step (the generator yields before each read of more bytes). */
export function* parseSteps(fd: number, from: number, to: number): Steps<ParseResult | null> {
  const messages: ParsedMessage[] = [];
  // One window buffer, reused: what is kept of it moves to the front before each read, so indexing
  // makes no garbage per chunk (a 200 MB message would otherwise leave GC hundreds of MB behind).
  let store = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(to - from, 0)) + 4096);
  let win = store.subarray(0, 0);
  let winStart = from;
  let pos = from;
  let eof = false;
  /** The message being measured: its start and how far it has been fed (absolute offsets). */
  let meter: MessageMeter | null = null;
  let curStart = -1;
  let fed = from;
  let scanFrom = 0;
  const readMore = (): void => {
    const n = Math.min(CHUNK, to - pos);
    if (n <= 0) { eof = true; return; }
    if (win.length + n > store.length) {
      const bigger = Buffer.allocUnsafe(win.length + n + 4096);
      win.copy(bigger);
      store = bigger;
    }
    let got = 0;
    while (got < n) {
      const r = readSync(fd, store, win.length + got, n - got, pos + got);
      if (r <= 0) break;
      got += r;
    }
    pos += got;
    if (got === 0) { eof = true; return; }
    win = store.subarray(0, win.length + got);
  };
  /** Feed the current message everything before absolute offset `upTo`. */
  const feedTo = (upTo: number): void => {
    if (meter && upTo > fed) meter.feed(win, fed - winStart, upTo - winStart);
    fed = Math.max(fed, upTo);
  };
  readMore();
  while (!eof && win.indexOf(LF) < 0 && win.length <= MAX_FROM_LINE + 1) readMore();
  if (boundaryAt(win, 0, true)) { meter = new MessageMeter(); curStart = from; }
  else if (from > 0) return null;
  for (;;) {
    const i = win.indexOf('\nFrom ', scanFrom, 'latin1');
    const p = i + 1;
    if (i >= 0 && (eof || win.indexOf(LF, p) >= 0 || win.length - p > MAX_FROM_LINE + 1)) {
      scanFrom = p;
      if (boundaryAt(win, p, !meter)) {
        const at = winStart + p;
        if (meter) {
          feedTo(at);
          messages.push(toParsed(meter, curStart, at));
        }
        meter = new MessageMeter();
        curStart = at;
        fed = at;
        // A window holds thousands of small messages: a step per few hundred keeps slices short.
        if ((messages.length & 255) === 0) yield;
      }
      continue;
    }
    if (eof) break;
    // Need more bytes: everything before the next possible separator belongs to the current message,
    // so measure it and keep only a few bytes (for the blank-line check) plus the undecided tail.
    if (i < 0) scanFrom = Math.max(scanFrom, win.length - 5);
    else scanFrom = i;
    feedTo(winStart + scanFrom);
    const trim = Math.max(0, Math.min(scanFrom, win.length) - 3);
    if (trim > 0) {
      store.copyWithin(0, trim, win.length);
      win = store.subarray(0, win.length - trim);
      winStart += trim;
      scanFrom -= trim;
    }
    yield;
    readMore();
  }
  if (meter) {
    feedTo(winStart + win.length);
    messages.push(toParsed(meter, curStart, winStart + win.length));
  }
  const preambleEnd = messages.length ? messages[0]!.offset : winStart + win.length;
  return { preambleEnd, messages };
}
