// IMAP ENVELOPE as Dovecot 2.3 writes it (imap-envelope.c).
import { parseAddressList, type Address } from './address.js';
import { fieldValue } from './header.js';
import { NUL_REPLACEMENT } from './rfc822-parser.js';
import { humanStringWire, nstringNoLfWire } from './imap-string.js';
import type { MimePart } from './types.js';

export interface EnvelopeData {
  date: string | null;
  subject: string | null;
  from: Address[] | null;
  sender: Address[] | null;
  replyTo: Address[] | null;
  to: Address[] | null;
  cc: Address[] | null;
  bcc: Address[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

type AddrKey = 'from' | 'sender' | 'replyTo' | 'to' | 'cc' | 'bcc';
type StrKey = 'date' | 'subject' | 'inReplyTo' | 'messageId';

const ADDR_FIELDS: Record<string, AddrKey> = { from: 'from', sender: 'sender', 'reply-to': 'replyTo', to: 'to', cc: 'cc', bcc: 'bcc' };
const STR_FIELDS: Record<string, StrKey> = { date: 'date', subject: 'subject', 'in-reply-to': 'inReplyTo', 'message-id': 'messageId' };

/** IMAP strings cannot carry NUL; Dovecot shows it as U+FFFD (UTF-8 bytes), and so do we. */
function cstr(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, NUL_REPLACEMENT) : s;
}

/** Envelope fields of a message header. Repeated address fields are merged, as Dovecot does. */
export function envelopeData(part: MimePart, raw: Buffer): EnvelopeData {
  const env: EnvelopeData = { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
  for (const f of part.fields) {
    if (!f.hasColon) continue;
    const name = f.name.toLowerCase();
    const ak = ADDR_FIELDS[name];
    if (ak) {
      // Trailing whitespace-only continuation lines are not part of the value for Dovecot (this
      // shows in what an unterminated comment leaves behind as a display name).
      const list = parseAddressList(fieldValue(raw, f).replace(/(\r?\n[ \t]*)+$/, ''));
      if (list) env[ak] = env[ak] ? [...(env[ak] as Address[]), ...list] : list;
      continue;
    }
    const sk = STR_FIELDS[name];
    if (sk) env[sk] = cstr(fieldValue(raw, f));
  }
  return env;
}

function addressesWire(list: Address[] | null): string {
  if (!list) return 'NIL';
  let out = '(';
  for (const a of list) {
    out += `(${a.name === null ? 'NIL' : humanStringWire(a.name)} ${nstringNoLfWire(a.route)} ${nstringNoLfWire(a.mailbox)} ${nstringNoLfWire(a.domain)})`;
  }
  return out + ')';
}

export const NIL_ENVELOPE = 'NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL';

/** The ENVELOPE contents (without the outer parentheses) as a wire string. */
export function envelopeInner(part: MimePart, raw: Buffer): string {
  return envelopeInnerOf(envelopeData(part, raw));
}

/** envelopeInner from fields already extracted (one address parse for ENVELOPE and sort keys). */
export function envelopeInnerOf(e: EnvelopeData): string {
  return [
    nstringNoLfWire(e.date),
    e.subject === null ? 'NIL' : humanStringWire(e.subject),
    addressesWire(e.from),
    addressesWire(e.sender ?? e.from),
    addressesWire(e.replyTo ?? e.from),
    addressesWire(e.to),
    addressesWire(e.cc),
    addressesWire(e.bcc),
    nstringNoLfWire(e.inReplyTo),
    nstringNoLfWire(e.messageId),
  ].join(' ');
}

/**
 * The IMAP ENVELOPE of a message (root part, or a message/rfc822 part's `message`), parenthesised.
 * Returns a wire string (one char per byte): send it with Buffer.from(s, 'latin1').
 */
export function envelope(part: MimePart, raw: Buffer): string {
  return `(${envelopeInner(part, raw)})`;
}
