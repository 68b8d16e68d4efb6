// IMAP URLs (RFC 5092) as CATENATE (RFC 4469) uses them: a message or a section of one in the user's
// own mailboxes. Accepted forms: `imap://[user[;AUTH=..]@]host[:port]/mailbox;UIDVALIDITY=n/;UID=m...`
// (only when the user, if given, is the one logged in), the absolute path `/mailbox[;UIDVALIDITY=n]/
// ;UID=m[/;SECTION=s][/;PARTIAL=o[.l]]`, and `;UID=m...` relative to the selected mailbox. URLAUTH
// parts (;EXPIRE=, ;URLAUTH=) are not accepted here: a plain URL names the user's own mail.
import { Args, ParseError } from './args.js';
import { parseSection, type SectionSpec } from './fetch-items.js';
import { canonicalName } from './mailbox-name.js';

export interface MessageUrl {
  /** Store wire name; undefined: the selected mailbox. */
  mailbox?: string;
  uidValidity?: number;
  uid: number;
  section?: SectionSpec;
  partial?: { start: number; length?: number };
}

/** RFC 3986 percent-decoding to bytes (RFC 5092 achar/bchar: everything else is taken as is). */
function unescape(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new ParseError('bad %-escape');
      out.push(parseInt(h, 16));
      i += 2;
    } else if (c > 0x7e || c < 0x21) {
      throw new ParseError('character not allowed in a URL');
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

const NUM = /^[1-9]\d{0,9}$/;

function num(s: string, zeroOk = false): number {
  if (!(NUM.test(s) || (zeroOk && s === '0'))) throw new ParseError('bad number');
  const v = Number(s);
  if (v > 0xffffffff) throw new ParseError('number out of range');
  return v;
}

/** Parse a CATENATE URL for the user known by `names` (login name, user name); throws ParseError (the caller answers [BADURL]). */
export function parseMessageUrl(url: string, names: readonly string[]): MessageUrl {
  let rest = url;
  const abs = /^imap:\/\/([^/]*)(\/.*)$/i.exec(rest);
  if (abs) {
    const authority = abs[1]!;
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const user = unescape(authority.slice(0, at).split(';')[0]!).toString('utf8');
      if (!names.includes(user)) throw new ParseError('URL of another user');
    }
    rest = abs[2]!;
  }
  const out: { mailbox?: string; uidValidity?: number; uid?: number; section?: SectionSpec; partial?: { start: number; length?: number } } = {};
  let segs: string[];
  if (rest.startsWith('/')) {
    // "/mailbox[;UIDVALIDITY=n]/;UID=..": the mailbox is everything up to the "/;UID=" segment.
    const i = rest.toUpperCase().indexOf('/;UID=');
    if (i < 0) throw new ParseError('URL names no message');
    let box = rest.slice(1, i);
    const uv = /;UIDVALIDITY=([^/;]*)$/i.exec(box);
    if (uv) {
      out.uidValidity = num(uv[1]!);
      box = box.slice(0, uv.index);
    }
    if (!box) throw new ParseError('URL names no mailbox');
    out.mailbox = canonicalName(unescape(box));
    segs = rest.slice(i + 1).split('/');
  } else if (rest.startsWith(';')) {
    segs = rest.split('/');
  } else {
    throw new ParseError('not an IMAP message URL');
  }
  for (const [k, seg] of segs.entries()) {
    const m = /^;([A-Za-z]+)=(.*)$/.exec(seg);
    if (!m) throw new ParseError('bad URL segment');
    const key = m[1]!.toUpperCase();
    const value = m[2]!;
    if (k === 0 && key !== 'UID') throw new ParseError('URL names no message');
    if (key === 'UID' && k === 0) out.uid = num(value);
    else if (key === 'SECTION' && k === 1) {
      const a = new Args(`[${unescape(value).toString('latin1')}]`, []);
      out.section = parseSection(a).section;
      if (!a.atEnd) throw new ParseError('bad section');
    } else if (key === 'PARTIAL' && k === segs.length - 1 && k >= 1) {
      const p = /^(\d{1,10})(?:\.(\d{1,10}))?$/.exec(value);
      if (!p) throw new ParseError('bad partial');
      out.partial = { start: num(p[1]!, true), ...(p[2] !== undefined ? { length: num(p[2]) } : {}) };
    } else throw new ParseError(`unexpected ;${key}=`);
  }
  if (out.uid === undefined) throw new ParseError('URL names no message');
  return { ...out, uid: out.uid };
}
