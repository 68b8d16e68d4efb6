// The shared default behind Mailbox.facts() (types.ts): parsed facts of messages — ENVELOPE, BODY,
// BODYSTRUCTURE, SORT and THREAD keys, header fields — computed from the bytes a backend supplies, and
// kept in a per-mailbox cache in the index directory (facts-file.ts) so that a later FETCH, SEARCH or
// SORT over the same messages parses nothing. Backends give only bytes and a per-message identity
// (FactsSource); everything about parsing and caching is here, one place for both mbox and maildir.
import { parseMessage } from '../mime/parser.js';
import { envelopeData, envelopeInnerOf } from '../mime/envelope.js';
import { bodyStructure } from '../mime/bodystructure.js';
import { decodeHeaderValue } from '../mime/decode.js';
import { fieldValue } from '../mime/header.js';
import { loadCharsets } from '../mime/charset.js';
import { ADDRESS_SEARCH_FIELDS, addressSearchText, type Address } from '../mime/address.js';
import { foldText } from '../mime/search.js';
import type { MimePart } from '../mime/types.js';
import type { FactsRequest, KeyColumns, KeyColumnsRequest, MailboxState, MessageFacts, SortAddress, SortKeys, ThreadingKeys } from './types.js';
import { IdSpace } from './facts-keys.js';
import { subjectKey } from '../mime/base-subject.js';
import { MAX_NAMES, type CachedFacts, type FactsFile, type ParsedFacts, type RawField } from './facts-file.js';
import { StoreError } from './types.js';

/** What a backend gives the shared facts code: the bytes of a message and what identifies them. */
export interface FactsSource {
  /** The handle's current state: its UIDVALIDITY (cached facts of another are never used) and which
   *  UIDs are current (the cache drops the others when it compacts). */
  readonly state: MailboxState;
  /**
   * A short string that changes whenever the bytes `read(uid)` returns could have changed under the
   * same UID (mbox: RFC822.SIZE and the hash of the message's first bytes; maildir: the file's base name
   * and size); undefined when the handle no longer knows the UID (then nothing is cached for it).
   * Cheap: called once per message per request.
   */
  identity(uid: number): string | undefined;
  /**
   * Optional, for a backend whose identity is two numbers written `${a}.${b}` (mbox: size and hash):
   * the identities of `uids` in one pass, as pairs (out[2i], out[2i+1]) with NaN for a UID identity()
   * answers undefined for; factsAll() then compares numbers and builds no string per message.
   */
  identityPairs?(uids: readonly number[]): Float64Array;
  /** The CRLF message, as Mailbox.read() (rejects with StoreError('NONEXISTENT') once it is gone), with
   *  the identity of exactly these bytes (taken where they were read, e.g. under the same lock). */
  load(uid: number): Promise<{ bytes: Buffer; identity: string | undefined }>;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 3501 SENT* keys compare the Date header's date, disregarding time and timezone: the calendar
 *  day written (UTC midnight ms), or null. */
export function sentDayOf(date: string): number | null {
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{2,4})/.exec(date);
  if (!m) return null;
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let y = Number(m[3]);
  if (y < 50) y += 2000;
  else if (y < 1000) y += 1900;
  return Date.UTC(y, mon, Number(m[1]));
}

const ZONES: Record<string, number> = {
  ut: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

/** RFC 5322 date-time (with the obsolete forms: comments, two-digit years, named zones, optional
 *  seconds) as UTC ms; null when it is not one. */
export function parseSentDate(value: string): number | null {
  const s = value.replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const m = /^(?:[A-Za-z]{3},? ?)?(\d{1,2}) ([A-Za-z]{3})[a-z]*\.? (\d{2,4}) (\d{1,2}) ?: ?(\d{2})(?: ?: ?(\d{2}))?(?: ([+-]\d{4}|[A-Za-z]{1,5}))?/.exec(s);
  if (!m) return null;
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let y = Number(m[3]);
  if (m[3]!.length < 4) y += y < 50 ? 2000 : 1900;
  const d = Number(m[1]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const se = m[6] ? Number(m[6]) : 0;
  if (d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return null;
  let off = 0;
  const z = m[7];
  if (z && /^[+-]\d{4}$/.test(z)) {
    const n = Number(z.slice(1, 3)) * 60 + Number(z.slice(3));
    off = z[0] === '-' ? -n : n;
  } else if (z) {
    off = ZONES[z.toLowerCase()] ?? 0;
  }
  const t = Date.UTC(y, mon, d, h, mi, se) - off * 60_000;
  return Number.isFinite(t) ? t : null;
}

/**
 * The message IDs in a Message-ID / In-Reply-To / References value, in order: what is between `<` and
 * `>`, with whitespace and comments dropped except inside quoted strings (kept as written, quotes
 * included). An ID must have a non-empty local part, an `@` and a non-empty domain; anything else
 * between brackets, and everything outside them, is skipped.
 */
export function messageIds(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value[i]!;
    if (c === '(') {
      // A comment (nested) outside an ID.
      let depth = 0;
      for (; i < n; i++) {
        const d = value[i];
        if (d === '\\') { i++; continue; }
        if (d === '(') depth++;
        else if (d === ')' && --depth === 0) { i++; break; }
      }
      continue;
    }
    if (c !== '<') { i++; continue; }
    let id = '';
    let j = i + 1;
    let ok = false;
    let inQuote = false;
    for (; j < n; j++) {
      const d = value[j]!;
      if (inQuote) {
        id += d;
        if (d === '\\' && j + 1 < n) id += value[++j];
        else if (d === '"') inQuote = false;
        continue;
      }
      if (d === '>') { ok = true; break; }
      if (d === '<') break;
      if (d === '"') { inQuote = true; id += d; continue; }
      if (d === '(') {
        let depth = 0;
        for (; j < n; j++) {
          const e = value[j];
          if (e === '\\') { j++; continue; }
          if (e === '(') depth++;
          else if (e === ')' && --depth === 0) break;
        }
        continue;
      }
      if (d === ' ' || d === '\t' || d === '\r' || d === '\n') continue;
      id += d;
    }
    if (ok) {
      const at = id.lastIndexOf('@');
      if (at > 0 && at < id.length - 1) out.push(id);
      i = j + 1;
    } else {
      i = j > i + 1 ? j : i + 1;
    }
  }
  return out;
}

function firstAddress(list: Address[] | null): SortAddress | null {
  for (const a of list ?? []) {
    if (a.domain === null) continue; // group start / end
    return { name: a.name === null ? null : decodeHeaderValue(a.name), mailbox: a.mailbox, domain: a.domain };
  }
  return null;
}

function firstValue(root: MimePart, raw: Buffer, name: string): string | null {
  for (const f of root.fields) if (f.hasColon && f.name.toLowerCase() === name) return fieldValue(raw, f);
  return null;
}

function allValues(root: MimePart, raw: Buffer, name: string): string[] {
  const out: string[] = [];
  for (const f of root.fields) if (f.hasColon && f.name.toLowerCase() === name) out.push(fieldValue(raw, f));
  return out;
}

/** ENVELOPE, BODY, BODYSTRUCTURE, sort and threading keys of a parsed message. Await loadCharsets()
 *  first (decoded subjects and names). */
export function parsedFacts(root: MimePart, raw: Buffer): ParsedFacts {
  const env = envelopeData(root, raw);
  const dateHeader = firstValue(root, raw, 'date');
  const subject = firstValue(root, raw, 'subject');
  const sortKeys: SortKeys = {
    dateHeader,
    sentDate: dateHeader === null ? null : parseSentDate(dateHeader),
    sentDay: dateHeader === null ? null : sentDayOf(dateHeader),
    subject: subject === null ? null : decodeHeaderValue(subject).trim(),
    from: firstAddress(env.from),
    to: firstAddress(env.to),
    cc: firstAddress(env.cc),
  };
  const mid = firstValue(root, raw, 'message-id');
  const threading: ThreadingKeys = {
    messageId: mid === null ? null : (messageIds(mid)[0] ?? null),
    inReplyTo: allValues(root, raw, 'in-reply-to').flatMap(messageIds),
    references: allValues(root, raw, 'references').flatMap(messageIds),
  };
  return {
    envelope: `(${envelopeInnerOf(env)})`,
    body: bodyStructure(root, raw, false),
    bodyStructure: bodyStructure(root, raw, true),
    sortKeys,
    threading,
  };
}

/** The top-level header fields with these (lower-cased) names, whole, in header order. */
export function rawFields(root: MimePart, raw: Buffer, names: ReadonlySet<string>): RawField[] {
  const out: RawField[] = [];
  for (const f of root.fields) {
    if (!f.hasColon) continue;
    const name = f.name.toLowerCase();
    if (names.has(name)) out.push({ name, line: raw.toString('latin1', f.start, f.end), valueAt: f.valueStart - f.start });
  }
  return out;
}

const CRLF = '\r\n';

/** BODY[HEADER.FIELDS (names)] of the top-level header from its fields: the matching fields in
 *  order, then CRLF (Dovecot adds the empty line for the top-level header even when it had none). */
export function headerFieldsOf(fields: readonly RawField[], names: ReadonlySet<string>): Buffer {
  let text = '';
  for (const f of fields) if (names.has(f.name)) text += f.line;
  return Buffer.from(text + CRLF, 'latin1');
}

/** A field's value without the line end and surrounding blanks, RFC 2047-decoded (as SEARCH sees it). */
function decodedValue(f: RawField): string {
  let s = f.valueAt;
  let e = f.line.length;
  while (e > s && (f.line.charCodeAt(e - 1) === 0x0a || f.line.charCodeAt(e - 1) === 0x0d)) e--;
  while (s < e && (f.line.charCodeAt(s) === 0x20 || f.line.charCodeAt(s) === 0x09)) s++;
  return decodeHeaderValue(f.line.slice(s, e));
}

/** Decoded values of the requested fields (lower-cased names), all occurrences in header order. */
export function headerValuesOf(fields: readonly RawField[], names: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of names) out.set(n, []);
  for (const f of fields) out.get(f.name)?.push(decodedValue(f));
  return out;
}

/** A field's value as the address parser takes it: without the line end, and without the blanks
 *  after the colon unless they are all the first line holds (then one of them goes: Dovecot's rule, as
 *  mime/header.ts fieldValue). */
function addressValue(f: RawField): string {
  const l = f.line;
  let s = f.valueAt;
  let e = l.length;
  if (e > s && l.charCodeAt(e - 1) === 0x0a) e--;
  if (e > s && l.charCodeAt(e - 1) === 0x0d) e--;
  let p = s;
  while (p < e && (l.charCodeAt(p) === 0x20 || l.charCodeAt(p) === 0x09)) p++;
  if (p < e && l.charCodeAt(p) !== 0x0d && l.charCodeAt(p) !== 0x0a) s = p;
  else if (s < e && (l.charCodeAt(s) === 0x20 || l.charCodeAt(s) === 0x09)) s++;
  return l.slice(s, e);
}

/** Fields whose SEARCH strings a record keeps even when they were not asked for as such: what FROM, TO,
 *  CC, BCC and SUBJECT look at. */
const SEARCHED: ReadonlySet<string> = new Set([...ADDRESS_SEARCH_FIELDS, 'subject']);

/** MessageFacts.searchValues of one field (lower-cased name) from the header's fields. */
export function fieldSearchValues(fields: readonly RawField[], name: string): string[] {
  const out: string[] = [];
  for (const f of fields) if (f.name === name) out.push(foldText(decodedValue(f)));
  if (ADDRESS_SEARCH_FIELDS.has(name)) {
    for (const f of fields) if (f.name === name) out.push(foldText(addressSearchText(addressValue(f), decodeHeaderValue)));
  }
  return out;
}

/** Lower-cased, de-duplicated field names of a request (HEADER.FIELDS, headerValues, searchValues). */
export function requestedNames(want: FactsRequest): { fields: Set<string>; values: string[]; search: string[]; searchKey: string } {
  const fields = new Set((want.headerFields ?? []).map((n) => n.toLowerCase()));
  const values = [...new Set((want.headerValues ?? []).map((n) => n.toLowerCase()))];
  const search = [...new Set((want.searchValues ?? []).map((n) => n.toLowerCase()))];
  return { fields, values, search, searchKey: search.join('\n') };
}

/** The facts the request asks for, assembled from parsed facts and header fields. */
export function answer(uid: number, want: FactsRequest, parsed: ParsedFacts | null, fields: readonly RawField[], names: ReturnType<typeof requestedNames>): MessageFacts {
  const f: { -readonly [K in keyof MessageFacts]: MessageFacts[K] } = { uid, exists: true };
  if (parsed) {
    if (want.envelope) f.envelope = parsed.envelope;
    if (want.body) f.body = parsed.body;
    if (want.bodyStructure) f.bodyStructure = parsed.bodyStructure;
    if (want.sortKeys) f.sortKeys = parsed.sortKeys;
    if (want.threading) f.threading = parsed.threading;
  }
  if (want.headerFields) f.headerFields = headerFieldsOf(fields, names.fields);
  if (want.headerValues) f.headerValues = headerValuesOf(fields, names.values);
  if (want.searchValues) f.searchValues = new Map(names.search.map((n) => [n, fieldSearchValues(fields, n)]));
  return f;
}

/** Whether the request needs the one-parse facts (anything but header fields). */
export function wantsParsed(want: FactsRequest): boolean {
  return !!(want.envelope || want.body || want.bodyStructure || want.sortKeys || want.threading);
}

/** The facts a request asks for, from a cached record (only the columns asked for are parsed). */
function answerCached(uid: number, want: FactsRequest, rec: CachedFacts, names: ReturnType<typeof requestedNames>): MessageFacts {
  const f: { -readonly [K in keyof MessageFacts]: MessageFacts[K] } = { uid, exists: true };
  if (want.envelope) f.envelope = rec.envelope();
  if (want.body) f.body = rec.body();
  if (want.bodyStructure) f.bodyStructure = rec.bodyStructure();
  if (want.sortKeys) f.sortKeys = rec.sortKeys();
  if (want.threading) f.threading = rec.threading();
  if (want.headerFields || want.headerValues) {
    const fields = rec.fields();
    if (want.headerFields) f.headerFields = headerFieldsOf(fields, names.fields);
    if (want.headerValues) f.headerValues = headerValuesOf(fields, names.values);
  }
  if (want.searchValues) {
    // Kept with the record (in this process): a header SEARCH then decodes and folds nothing.
    let fields: RawField[] | null = null;
    f.searchValues = rec.searchMap(names.searchKey, names.search, (n) => fieldSearchValues((fields ??= rec.fields()), n));
  }
  return f;
}

/**
 * Mailbox.facts() for a backend: from `cache` where it holds a record for the message's current bytes
 * and the requested header names, else parsed from the bytes (and then cached, with the header names
 * asked for now and before, up to MAX_NAMES). `cache` null: nothing is cached (no index directory).
 */
export async function* mailboxFacts(cache: FactsFile | null, source: FactsSource, uids: readonly number[], want: FactsRequest): AsyncGenerator<MessageFacts> {
  await loadCharsets();
  const names = requestedNames(want);
  const asked = [...new Set([...names.fields, ...names.values, ...names.search])];
  const parsedWanted = wantsParsed(want);
  // SORT, THREAD, SENT*: only the keys family, from its own small file when it has them.
  const keysOnly = parsedWanted && !want.envelope && !want.body && !want.bodyStructure && !want.headerFields && !want.headerValues && !want.searchValues;
  let resynced = false;
  let keysResynced = false;
  // A backend whose identities are two numbers gives them all in one walk: compared as numbers, no
  // string (and no search by UID) per message.
  const pairs = cache && source.identityPairs ? source.identityPairs(uids) : null;
  for (let i = 0; i < uids.length; i++) {
    const uid = uids[i]!;
    let covered: string[] = [];
    let id: string | undefined;
    let pa = NaN;
    let pb = NaN;
    if (pairs) {
      pa = pairs[2 * i]!;
      pb = pairs[2 * i + 1]!;
      if (!Number.isNaN(pa)) id = `${pa}.${pb}`;
    } else if (cache) {
      id = source.identity(uid);
    }
    const uv = source.state.uidValidity;
    if (cache && id !== undefined && keysOnly) {
      const look = (resync: boolean) => (pairs ? cache.keys.lookupPair(uid, pa, pb, uv, resync) : cache.keys.lookup(uid, id!, uv, resync));
      let k = look(false);
      if (!k && !keysResynced) {
        keysResynced = true;
        k = look(true);
      }
      if (k) {
        const f: { -readonly [K in keyof MessageFacts]: MessageFacts[K] } = { uid, exists: true };
        if (want.sortKeys) f.sortKeys = k.sortKeys;
        if (want.threading) f.threading = k.threading;
        yield f;
        continue;
      }
    }
    if (cache && id !== undefined) {
      const look = (resync: boolean) => (pairs ? cache.lookupPair(uid, pa, pb, uv, resync) : cache.lookup(uid, id!, uv, resync));
      let rec = look(false);
      if (!rec && !resynced) {
        // Someone else may have cached it since we looked: once per call, look again.
        resynced = true;
        rec = look(true);
      }
      if (rec) {
        try {
          if (!asked.length || rec.covers(asked)) {
            // A record of a file written before the keys family existed: copy its keys over.
            if (keysOnly) cache.keys.add(uid, id, rec.sortKeys(), rec.threading(), source.state);
            yield answerCached(uid, want, rec, names);
            continue;
          }
          covered = rec.names(); // kept in the new record with the names asked for now
        } catch {
          covered = []; // a damaged column: parse afresh
        }
      }
    }
    let loaded: { bytes: Buffer; identity: string | undefined };
    try {
      loaded = await source.load(uid);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'NONEXISTENT') {
        yield { uid, exists: false };
        continue;
      }
      throw e;
    }
    const raw = loaded.bytes;
    const root = parseMessage(raw);
    // The names the new record covers (always including those asked for now); null: not cached. A
    // client asking for ever new names must not grow records without bound: past MAX_NAMES only the
    // names asked for now are kept.
    let cacheNames: string[] | null = null;
    if (cache && loaded.identity !== undefined) {
      const union = [...new Set([...covered, ...asked])];
      cacheNames = union.length <= MAX_NAMES ? union : asked.length <= MAX_NAMES ? asked : null;
    }
    const fields = rawFields(root, raw, new Set(cacheNames ?? asked));
    const parsed = cacheNames || parsedWanted ? parsedFacts(root, raw) : null;
    if (cacheNames) {
      // SEARCH strings of the fields header keys look at, kept with the record (null: made when asked).
      const search = cacheNames.map((n) => (SEARCHED.has(n) || names.search.includes(n) ? fieldSearchValues(fields, n) : null));
      cache!.add(uid, loaded.identity!, parsed!, cacheNames, fields, search, source.state);
    }
    yield answer(uid, want, parsed, fields, names);
  }
}

/** A place in factsAll()'s answer not filled yet. */
const MISSING: MessageFacts = { uid: 0, exists: false };

/**
 * Mailbox.factsAll() for a backend: as mailboxFacts(), in an array. What the cache holds is answered in
 * one synchronous pass (no promise per message): a request for the sort/thread keys only from the keys
 * file (facts-keys.ts), any other from the facts file; what they lack goes through mailboxFacts().
 */
export async function mailboxFactsAll(cache: FactsFile | null, source: FactsSource, uids: readonly number[], want: FactsRequest): Promise<MessageFacts[]> {
  const out: MessageFacts[] = []; // grown by push: V8 makes `new Array(n)` above 100,000 a dictionary
  for (let i = 0; i < uids.length; i++) out.push(MISSING);
  const keysOnly = (want.sortKeys || want.threading) && !want.envelope && !want.body && !want.bodyStructure && !want.headerFields && !want.headerValues && !want.searchValues;
  let rest: number[] = [];
  let restAt: number[] = [];
  if (cache && keysOnly) {
    const uv = source.state.uidValidity;
    let resync = true; // the file as it is now: someone may have added records since this handle looked
    const pairs = source.identityPairs?.(uids);
    if (uids.length >= 64) cache.keys.table(uv, true)?.wantAll(); // each record's bytes: a compacted body in one read
    for (let i = 0; i < uids.length; i++) {
      const uid = uids[i]!;
      let k;
      if (pairs) {
        const a = pairs[2 * i]!;
        k = Number.isNaN(a) ? undefined : cache.keys.lookupPair(uid, a, pairs[2 * i + 1]!, uv, resync);
      } else {
        const id = source.identity(uid);
        k = id === undefined ? undefined : cache.keys.lookup(uid, id, uv, resync);
      }
      resync = false;
      if (k) {
        out[i] = k; // the record is a MessageFacts with both keys (one more than asked for is allowed)
      } else {
        rest.push(uid);
        restAt.push(i);
      }
    }
  } else if (cache) {
    const uv = source.state.uidValidity;
    const names = requestedNames(want);
    const asked = [...new Set([...names.fields, ...names.values, ...names.search])];
    const pairs = source.identityPairs?.(uids);
    let resync = true; // the file as it is now
    for (let i = 0; i < uids.length; i++) {
      const uid = uids[i]!;
      let rec: CachedFacts | undefined;
      if (pairs) {
        const a = pairs[2 * i]!;
        rec = Number.isNaN(a) ? undefined : cache.lookupPair(uid, a, pairs[2 * i + 1]!, uv, resync);
      } else {
        const id = source.identity(uid);
        rec = id === undefined ? undefined : cache.lookup(uid, id, uv, resync);
      }
      resync = false;
      if (rec) {
        try {
          if (!asked.length || rec.covers(asked)) {
            out[i] = answerCached(uid, want, rec, names);
            continue;
          }
        } catch { /* a damaged column: parsed afresh below */ }
      }
      rest.push(uid);
      restAt.push(i);
    }
  } else {
    rest = [...uids];
    restAt = uids.map((_, i) => i);
  }
  if (rest.length) {
    let j = 0;
    for await (const f of mailboxFacts(cache, source, rest, want)) out[restAt[j++]!] = f;
  }
  return out;
}

/**
 * Mailbox.keyColumns() for a backend: the records of the keys file (facts-keys.ts) read as columns in
 * one synchronous pass — dates where the record keeps them, IDs as the kept table's numbers — and what
 * it lacks through mailboxFacts() (parsed, and so cached for the next time), its IDs numbered in the
 * same space. No object and no string per message for what the file holds.
 */
export async function mailboxKeyColumns(cache: FactsFile | null, source: FactsSource, uids: readonly number[], want: KeyColumnsRequest): Promise<KeyColumns> {
  const n = uids.length;
  const exists = new Uint8Array(n);
  const sentDate = new Float64Array(n);
  const th = !!want.threading;
  const sj = !!want.subjects;
  const subject = new Int32Array(sj ? n : 0);
  const replyOrForward = new Uint8Array(sj ? n : 0);
  const messageId = new Int32Array(th ? n : 0);
  const inReplyTo = new Int32Array(th ? n : 0);
  const refStart = new Uint32Array(th ? n + 1 : 0);
  /** Per message while filling: where its numbers are in the table's pool (>= 0), or -1 - its index in `parsedRefs`. */
  const at = new Int32Array(th ? n : 0);
  const table = cache?.keys.table(source.state.uidValidity, true) ?? null;
  // (Asked for only when needed: a compacted file's threads block is read when they are.)
  const ids = (th && table?.ids) || new IdSpace();
  const subjects = (sj && table?.subjects) || new IdSpace();
  const rest: number[] = [];
  const restAt: number[] = [];
  if (table) {
    const pairs = source.identityPairs?.(uids);
    // Records' bytes needed for most rows (threading, subjects, identities kept as strings): a compacted
    // body is read in one piece (the dates and number identities come from its columns alone).
    if (th || sj || !pairs) table.wantAll();
    for (let i = 0; i < n; i++) {
      const uid = uids[i]!;
      let r = table.row(uid);
      if (r >= 0) {
        if (pairs) {
          if (!table.isPair(r, pairs[2 * i]!, pairs[2 * i + 1]!)) r = -1;
        } else {
          const id = source.identity(uid);
          if (id === undefined || !table.isIdentity(r, id)) r = -1;
        }
      }
      // Threading numbers from the record (read again if the entry was idle: -1 when its bytes are not
      // the record's any more, and the message is parsed instead).
      const a = r >= 0 && th ? table.threadRow(r) : 0;
      const b = r >= 0 && a >= 0 && sj ? table.subjectRow(r) : 0;
      if (r < 0 || a < 0 || b === -2) { rest.push(uid); restAt.push(i); continue; }
      exists[i] = 1;
      sentDate[i] = table.sentDate(r);
      if (th) at[i] = a;
      if (sj) { subject[i] = b; replyOrForward[i] = table.replyOrForward(r) ? 1 : 0; }
    }
    if (th || sj) cache!.keys.charge();
  } else {
    for (let i = 0; i < n; i++) { rest.push(uids[i]!); restAt.push(i); }
  }
  const parsedRefs: number[][] = [];
  if (rest.length) {
    let j = 0;
    for await (const f of mailboxFacts(cache, source, rest, { sortKeys: true, threading: th })) {
      const i = restAt[j++]!;
      if (!f.exists || !f.sortKeys || (th && !f.threading)) continue;
      exists[i] = 1;
      sentDate[i] = f.sortKeys.sentDate ?? NaN;
      if (sj) {
        const k = subjectKey(f.sortKeys.subject);
        subject[i] = k.key === '' ? -1 : subjects.internString(k.key);
        replyOrForward[i] = k.replyOrForward ? 1 : 0;
      }
      if (!th) continue;
      const t = f.threading!;
      messageId[i] = t.messageId === null ? -1 : ids.internString(t.messageId);
      inReplyTo[i] = t.inReplyTo.length ? ids.internString(t.inReplyTo[0]!) : -1;
      parsedRefs.push(t.references.map((id) => ids.internString(id)));
      at[i] = -parsedRefs.length; // -1 - index
    }
  }
  if (!th) return { exists, sentDate, messageId, inReplyTo, refStart, refs: new Int32Array(0), idLimit: ids.count, subject, replyOrForward };
  // The references, in order, into one column (the table's pool is read after every parse: numbers
  // only grow, and the rows' places in the pool do not move).
  const pool = table?.threadPool() ?? new Int32Array(0);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (!exists[i]) continue;
    const a = at[i]!;
    total += a >= 0 ? pool[a + 2]! : parsedRefs[-a - 1]!.length;
  }
  const refs = new Int32Array(total);
  let k = 0;
  for (let i = 0; i < n; i++) {
    refStart[i] = k;
    if (!exists[i]) { messageId[i] = -1; inReplyTo[i] = -1; continue; }
    const a = at[i]!;
    if (a >= 0) {
      messageId[i] = pool[a]!;
      inReplyTo[i] = pool[a + 1]!;
      const m = pool[a + 2]!;
      for (let q = 0; q < m; q++) refs[k++] = pool[a + 3 + q]!;
    } else {
      for (const x of parsedRefs[-a - 1]!) refs[k++] = x;
    }
  }
  refStart[n] = k;
  return { exists, sentDate, messageId, inReplyTo, refStart, refs, idLimit: ids.count, subject, replyOrForward };
}

/** Facts straight from the bytes, nothing cached. */
export function factsFromBytes(source: FactsSource, uids: readonly number[], want: FactsRequest): AsyncGenerator<MessageFacts> {
  return mailboxFacts(null, source, uids, want);
}
