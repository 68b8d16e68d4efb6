// APPEND (RFC 3501 §6.3.11) with UIDPLUS APPENDUID and the user_quota check, MULTIAPPEND (RFC 3502:
// several messages, stored all or none through MailStore.appendMany), literal8 message data (RFC 3516
// BINARY) and CATENATE (RFC 4469: a message built from text literals and URLs of the user's own mail),
// and RFC 6855's UTF8 data item (`UTF8 (~{n}...)`, also as a CATENATE part) after ENABLE UTF8=ACCEPT.
import type { Command, ImapSession } from '../session.js';
import { type Args, ParseError } from '../args.js';
import { parseDateTime } from '../wire.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg, quotaKb } from './helpers.js';
import { normaliseFlags } from '../flags.js';
import { formatSet } from '../sequence.js';
import { parseMessageUrl } from '../imap-url.js';
import { messageSectionOrNull } from '../message-data.js';
import { storableBinary } from '../../mime/binary-store.js';
import { StoreError, type AppendItem, type Mailbox } from '../../store/types.js';

type CatPart = { text: Buffer } | { url: string };

interface Parsed {
  flags: string[];
  date?: Date;
  message?: Buffer;
  catenate?: CatPart[];
  /** Some of the data came as literal8 (RFC 3516): binary content the store must not alter. */
  binary?: boolean;
}

/** Message data: a literal, a literal8 or (lenient, as before) a quoted string. */
function messageData(a: Args): { data: Buffer; binary: boolean } {
  if (a.peek() === '~' || a.peek() === '\0') return a.literalOrLiteral8();
  return { data: a.stringBytes(), binary: false };
}

/** RFC 6855 §4 utf8-literal after "UTF8 ": `(~{n}...)`, a message whose header fields may be UTF-8.
 *  Only once the session enabled UTF8=ACCEPT. */
function utf8Literal(a: Args, utf8Accept: boolean): Buffer {
  if (!utf8Accept) throw new ParseError('UTF8 data needs ENABLE UTF8=ACCEPT first');
  a.expect('(');
  if (!a.atLiteral8()) throw new ParseError('UTF8 data must be a literal8');
  const data = a.literalOrLiteral8().data;
  a.expect(')');
  return data;
}

function parseOne(a: Args, utf8Accept: boolean): Parsed {
  const flags: string[] = [];
  let date: Date | undefined;
  if (a.peek() === '(') {
    a.list(() => flags.push(a.flag()));
    a.sp();
  }
  if (a.peek() === '"') {
    const d = parseDateTime(a.stringBytes().toString('latin1'));
    if (!d) throw new ParseError('Invalid date-time');
    date = d;
    a.sp();
  }
  if (flags.includes('\\*')) throw new ParseError('Invalid flag \\*');
  const base = { flags: flags.filter((f) => f.toLowerCase() !== '\\recent'), ...(date ? { date } : {}) };
  if (/[A-Za-z]/.test(a.peek())) {
    const word = a.atom().toUpperCase();
    if (word === 'UTF8') {
      a.sp();
      return { ...base, message: utf8Literal(a, utf8Accept), binary: true };
    }
    if (word !== 'CATENATE') throw new ParseError(`Unknown APPEND data ${word}`);
    a.sp();
    const parts: CatPart[] = [];
    let binary = false;
    a.list(() => {
      const kind = a.atom().toUpperCase();
      a.sp();
      if (kind === 'TEXT') {
        const l = a.literalOrLiteral8();
        binary ||= l.binary;
        parts.push({ text: l.data });
      }
      else if (kind === 'UTF8') {
        parts.push({ text: utf8Literal(a, utf8Accept) });
        binary = true;
      } else if (kind === 'URL') parts.push({ url: a.astringBytes().toString('latin1') });
      else throw new ParseError(`Unknown CATENATE part ${kind}`);
    });
    if (!parts.length) throw new ParseError('Empty CATENATE list');
    return { ...base, catenate: parts, binary };
  }
  const m = messageData(a);
  return { ...base, message: m.data, binary: m.binary };
}

class Refusal extends Error {
  constructor(readonly text: string) {
    super(text);
  }
}

/** Mailboxes opened to resolve CATENATE URLs, closed when the command ends. */
class UrlSources {
  private readonly open = new Map<string, Mailbox>();
  constructor(private readonly s: ImapSession) {}

  async bytes(url: string): Promise<Buffer> {
    const bad = () => new Refusal(`[BADURL ${url.replace(/[\r\n\]]/g, '')}] Invalid URL`);
    let u;
    try {
      const who = this.s.user?.user;
      u = parseMessageUrl(url, who ? [who.login, who.user] : []);
    } catch {
      throw bad();
    }
    const sel = this.s.selected;
    let box: Mailbox | undefined;
    const name = u.mailbox ?? sel?.name;
    if (!name) throw bad();
    if (sel && name === sel.name) box = sel.mailbox;
    else {
      box = this.open.get(name);
      if (!box) {
        try {
          box = await this.s.store.open(name, { readOnly: true });
        } catch (e) {
          if (e instanceof StoreError && (e.code === 'NONEXISTENT' || e.code === 'NOPERM')) throw bad();
          throw e;
        }
        this.open.set(name, box);
      }
    }
    if (u.uidValidity !== undefined && u.uidValidity !== box.state.uidValidity) throw bad();
    if (!box.state.messages.some((m) => m.uid === u.uid)) throw bad();
    let data: Buffer;
    try {
      data = await box.read(u.uid);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'NONEXISTENT') throw bad();
      throw e;
    }
    if (u.section) {
      const sec = messageSectionOrNull(data, u.section);
      if (!sec) throw bad();
      data = sec;
    }
    if (u.partial) {
      const start = Math.min(u.partial.start, data.length);
      data = data.subarray(start, u.partial.length === undefined ? data.length : Math.min(data.length, start + u.partial.length));
    }
    return data;
  }

  async close(): Promise<void> {
    for (const b of this.open.values()) await b.close().catch(() => undefined);
    this.open.clear();
  }
}

export async function append(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const name = mailboxArg(a);
  const parsed: Parsed[] = [];
  do {
    a.sp();
    parsed.push(parseOne(a, s.utf8Accept));
  } while (!a.atEnd);
  a.end();
  const limit = s.ctx.settings.append_limit;
  const items: AppendItem[] = [];
  const sources = new UrlSources(s);
  try {
    for (const p of parsed) {
      let message: Buffer;
      if (p.catenate) {
        const chunks: Buffer[] = [];
        let size = 0;
        for (const part of p.catenate) {
          const b = 'text' in part ? part.text : await sources.bytes(part.url);
          size += b.length;
          if (size > limit) return no(`[TOOBIG] Message too large (limit ${limit} bytes)`);
          chunks.push(b);
        }
        message = Buffer.concat(chunks, size);
      } else {
        message = p.message!;
      }
      if (message.length === 0) return no("Can't save a zero byte message");
      if (p.binary) {
        const kept = storableBinary(message);
        if (!kept) return no('[UNKNOWN-CTE] Binary content that cannot be stored without loss');
        message = kept;
      }
      items.push({ message, flags: normaliseFlags(p.flags), ...(p.date ? { date: p.date } : {}) });
    }
  } catch (e) {
    if (e instanceof Refusal) return no(e.text);
    throw e;
  } finally {
    await sources.close();
  }
  const quota = await quotaRefusal(s, items);
  if (quota) return no(quota);
  if (items.length === 1) {
    const it = items[0]!;
    const r = await s.store.append(name, it.message, it.flags, it.date);
    return ok(`[APPENDUID ${r.uidValidity} ${r.uid}] APPEND completed`);
  }
  const r = await s.store.appendMany(name, items);
  return ok(`[APPENDUID ${r.uidValidity} ${formatSet(r.uids)}] APPEND completed`);
}

/** DMail lets a write that starts under quota finish over it. A MULTIAPPEND set is one unit: refused
 *  whole when, appended one by one, any of its messages would have been refused. */
async function quotaRefusal(s: ImapSession, items: readonly AppendItem[]): Promise<string | null> {
  const q = quotaKb(s);
  if (q === undefined) return null;
  const used = await s.store.usage();
  const beforeLast = items.slice(0, -1).reduce((n, it) => n + it.message.length, 0);
  return used + beforeLast >= q * 1024 ? '[OVERQUOTA] Quota exceeded' : null;
}
