// RFC 4467 URLAUTH: GENURLAUTH, RESETKEY and URLFETCH with the "INTERNAL" mechanism. An authorized URL is
// an IMAP URL (RFC 5092) naming one message or part of one, followed by ";URLAUTH=<access>" (the rump,
// optionally with ";EXPIRE=<date-time>" before it), then ":internal:<token>" where the token is the hex
// HMAC-SHA1 of the rump under the mailbox's access key (kept by the store: MailStore.urlauthKey). Keys
// are per user and mailbox; RESETKEY replaces them, so every URL issued before stops working.
//
// Access identifiers checked by URLFETCH: "anonymous" and "authuser" (any logged-in session),
// "user+<name>" (that user), "submit+<name>" (that user's submission agent: here a session logged in as
// that user). One process serves one user and runs as that user, so URLFETCH reads only the session
// user's own mailboxes: a URL of another owner answers NIL (as does any URL that is malformed, expired,
// forged, for a reset key, another UIDVALIDITY, or a message gone).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Command, ImapSession } from '../session.js';
import { Args, ParseError } from '../args.js';
import { canonicalName } from '../mailbox-name.js';
import { parseFetchItems } from '../fetch-items.js';
import { messageSection } from '../message-data.js';
import { imapString } from '../wire.js';
import { bad, no, ok, type Result } from '../result.js';
import { StoreError } from '../../store/types.js';
import { mailboxArg } from './helpers.js';

/** The parts of an IMAP URL that URLAUTH uses. */
export interface ImapUrl {
  user: string | null;
  mailbox: string;
  uidValidity?: number;
  uid: number;
  section?: string;
  partial?: { start: number; length?: number };
  expire?: Date;
  access: string;
  /** Everything up to and including ";URLAUTH=<access>": what the token signs. */
  rump: string;
  mechanism?: string;
  token?: string;
}

// imap://[user[;AUTH=x]@]host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=a[.b]][;EXPIRE=t];URLAUTH=access[:mech:token]
const URL_RE = /^(imap:\/\/(?:([^@/;]*)(?:;AUTH=[^@/]*)?@)?[^/@]+\/([^;]+?)(?:;UIDVALIDITY=(\d{1,10}))?\/;UID=(\d{1,10})(?:\/;SECTION=([^/;]*))?(?:\/;PARTIAL=(\d{1,10})(?:\.(\d{1,10}))?)?(?:;EXPIRE=([^;]+))?;URLAUTH=([^:;]+))(?::([^:;]+):([^:;]*))?$/i;

const ACCESS_RE = /^(anonymous|authuser|(?:submit|user)\+.+)$/i;

/** RFC 3986 percent-decoding to bytes; null for a bad escape. */
function pctDecode(s: string): Buffer | null {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) return null;
      out.push(parseInt(h, 16));
      i += 2;
    } else if (c > 0x7e || c < 0x21) {
      return null;
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

/** Parse an IMAP URL with a URLAUTH component; null when it is not one. */
export function parseImapUrl(url: string): ImapUrl | null {
  const m = URL_RE.exec(url);
  if (!m) return null;
  const user = m[2] !== undefined ? pctDecode(m[2])?.toString('utf8') ?? null : null;
  const mboxBytes = pctDecode(m[3]!);
  if (!mboxBytes || (m[2] !== undefined && user === null)) return null;
  let mailbox: string;
  try { mailbox = canonicalName(mboxBytes, { allowTrailingDelimiter: true }); } catch { return null; }
  const access = pctDecode(m[10]!)?.toString('utf8');
  if (!access || !ACCESS_RE.test(access)) return null;
  const out: ImapUrl = { user, mailbox, uid: Number(m[5]), access, rump: m[1]! };
  if (!(out.uid >= 1)) return null;
  if (m[4] !== undefined) out.uidValidity = Number(m[4]);
  if (m[6] !== undefined) {
    const sec = pctDecode(m[6]);
    if (!sec) return null;
    out.section = sec.toString('latin1');
  }
  if (m[7] !== undefined) out.partial = { start: Number(m[7]), length: m[8] !== undefined ? Number(m[8]) : undefined };
  if (m[9] !== undefined) {
    const d = new Date(pctDecode(m[9])?.toString('latin1') ?? '');
    // RFC 3339 date-time (RFC 4467 §3): a zone is required.
    if (Number.isNaN(d.getTime()) || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(pctDecode(m[9])!.toString('latin1'))) return null;
    out.expire = d;
  }
  if (m[11] !== undefined) {
    out.mechanism = m[11];
    out.token = m[12];
  }
  return out;
}

function token(key: Buffer, rump: string): string {
  return createHmac('sha1', key).update(rump, 'latin1').digest('hex');
}

/** Is `name` this session's user (as typed at login, or canonical)? */
function isSessionUser(s: ImapSession, name: string | null): boolean {
  const u = s.user?.user;
  return !!u && name !== null && (name === u.login || name === u.user);
}

export async function genurlauth(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  const out: string[] = [];
  do {
    a.sp();
    const url = a.astringBytes().toString('latin1');
    a.sp();
    const mech = a.atom();
    if (mech.toUpperCase() !== 'INTERNAL') return bad(`Unknown URLAUTH mechanism ${mech.slice(0, 40)}`);
    const u = parseImapUrl(url);
    if (!u || u.mechanism !== undefined) return bad('Invalid URLAUTH rump URL');
    // RFC 4467 §7: only the owner may authorize access to a mailbox.
    if (!isSessionUser(s, u.user)) return no('URL does not name the logged-in user');
    const st = await s.store.status(u.mailbox);
    if (u.uidValidity !== undefined && u.uidValidity !== st.uidValidity) return no('UIDVALIDITY of the URL does not match the mailbox');
    if (u.expire && u.expire.getTime() <= Date.now()) return no('URL has already expired');
    const key = await s.store.urlauthKey(u.mailbox, true);
    if (!key) return no('[SERVERBUG] No access key');
    out.push(`${u.rump}:internal:${token(key, u.rump)}`);
  } while (!a.atEnd);
  a.end();
  s.untagged(`GENURLAUTH ${out.map((x) => imapString(x)).join(' ')}`);
  return ok('GENURLAUTH completed');
}

export async function resetkey(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  if (a.atEnd) {
    await s.store.resetUrlauthKeys();
    return ok('All keys removed');
  }
  a.sp();
  const name = mailboxArg(a);
  while (!a.atEnd) {
    a.sp();
    const mech = a.atom();
    if (mech.toUpperCase() !== 'INTERNAL') return bad(`Unknown URLAUTH mechanism ${mech.slice(0, 40)}`);
  }
  await s.store.status(name); // NO [NONEXISTENT] for a mailbox that is not there
  await s.store.resetUrlauthKeys(name);
  return ok('Key reset');
}

/** The bytes a URL stands for, or null (the client gets NIL). */
async function fetchUrl(s: ImapSession, url: string): Promise<Buffer | null> {
  const u = parseImapUrl(url);
  if (!u || !u.mechanism || !u.token) return null;
  if (u.mechanism.toUpperCase() !== 'INTERNAL' || !/^[0-9a-f]{32,}$/i.test(u.token)) return null;
  const access = u.access.toLowerCase();
  if (access.startsWith('user+') || access.startsWith('submit+')) {
    if (!isSessionUser(s, u.access.slice(u.access.indexOf('+') + 1))) return null;
  }
  if (!isSessionUser(s, u.user)) return null; // another user's mailbox: not readable from this process
  if (u.expire && u.expire.getTime() <= Date.now()) return null;
  const key = await s.store.urlauthKey(u.mailbox, false);
  if (!key) return null;
  const want = Buffer.from(token(key, u.rump), 'hex');
  const got = Buffer.from(u.token.toLowerCase(), 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  let spec;
  if (u.section !== undefined) {
    try {
      const items = parseFetchItems(new Args(`BODY.PEEK[${u.section}]`, []));
      const it = items[0];
      if (items.length !== 1 || it?.type !== 'SECTION') return null;
      spec = it.section;
    } catch (e) {
      if (e instanceof ParseError) return null;
      throw e;
    }
  }
  let box;
  try {
    box = await s.store.open(u.mailbox, { readOnly: true });
  } catch (e) {
    if (e instanceof StoreError) return null;
    throw e;
  }
  try {
    if (u.uidValidity !== undefined && box.state.uidValidity !== u.uidValidity) return null;
    if (!box.state.messages.some((m) => m.uid === u.uid)) return null;
    let data = await box.read(u.uid);
    if (spec) data = await messageSection(data, spec);
    if (u.partial) {
      const end = u.partial.length !== undefined ? u.partial.start + u.partial.length : data.length;
      data = data.subarray(Math.min(u.partial.start, data.length), Math.min(end, data.length));
    }
    return data;
  } catch (e) {
    if (e instanceof StoreError) return null;
    throw e;
  } finally {
    await box.close().catch(() => undefined);
  }
}

export async function urlfetch(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  const urls: string[] = [];
  do {
    a.sp();
    urls.push(a.astringBytes().toString('latin1'));
  } while (!a.atEnd);
  for (const url of urls) {
    const data = await fetchUrl(s, url);
    s.write(`* URLFETCH ${imapString(url)} `);
    if (data) {
      s.write(`{${data.length}}\r\n`);
      s.write(data);
      s.write('\r\n');
    } else {
      s.write('NIL\r\n');
    }
    await s.drainIfBusy();
  }
  return ok('URLFETCH completed');
}
