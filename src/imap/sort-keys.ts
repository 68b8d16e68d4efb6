// What SORT and THREAD need to know about a message, in one place: the sent date, the base subject,
// the first From/To/Cc address and the threading IDs. Read from the message header through the store
// contract (Mailbox.read) and kept per mailbox handle, so a second SORT or THREAD in the session costs
// no message reads; a store-side cache of message facts can later answer messageFacts() instead.
import type { Mailbox, MessageInfo } from '../store/types.js';
import { parseMessage } from '../mime/parser.js';
import { envelopeData } from '../mime/envelope.js';
import type { Address } from '../mime/address.js';
import { decodeHeaderValue } from '../mime/decode.js';
import { fieldValue, findFields } from '../mime/header.js';
import { baseSubject } from '../mime/base-subject.js';
import { unicodeCasemap } from '../mime/collation.js';
import { parseMessageDate } from '../mime/message-date.js';
import { messageIds } from '../mime/message-id.js';
import { loadCharsets } from '../mime/charset.js';

export interface MessageFacts {
  /** Date: header as UTC ms; null when missing or unparsable (callers fall back to INTERNALDATE). */
  sentDate: number | null;
  /** Collation key (i;unicode-casemap) of the base subject; '' for none. */
  subjectKey: string;
  /** The subject was a reply or forward (RFC 5256 §2.1). */
  replyOrForward: boolean;
  /** Collation keys of the first address's addr-mailbox (SORT FROM/TO/CC). */
  fromKey: string;
  toKey: string;
  ccKey: string;
  /** Collation keys of the first address's display name, else its addr-spec (RFC 5957). */
  displayFromKey: string;
  displayToKey: string;
  /** First valid msg-id of Message-ID, or null. */
  messageId: string | null;
  /** References' msg-ids, or In-Reply-To's first one when References has none (RFC 5256 §2.2). */
  references: string[];
}

/** Largest number of References a message contributes (a hostile header stays bounded). */
const MAX_REFERENCES = 1000;

function firstMailbox(list: Address[] | null): Address | null {
  if (!list) return null;
  for (const a of list) if (a.domain !== null && a.mailbox !== null) return a; // skip group markers
  return null;
}

const real = (s: string | null, missing: string): string => (s === null || s === missing ? '' : s);

function mailboxKey(a: Address | null): string {
  return a ? unicodeCasemap(decodeHeaderValue(real(a.mailbox, 'MISSING_MAILBOX'))) : '';
}

function displayKey(a: Address | null): string {
  if (!a) return '';
  const name = a.name === null ? '' : decodeHeaderValue(a.name).trim();
  if (name) return unicodeCasemap(name);
  const mbox = real(a.mailbox, 'MISSING_MAILBOX');
  const dom = real(a.domain, 'MISSING_DOMAIN');
  return unicodeCasemap(decodeHeaderValue(dom ? `${mbox}@${dom}` : mbox));
}

/** The facts of one message from its bytes (the header is all that is looked at). */
export function factsOf(message: Buffer): MessageFacts {
  const end = message.indexOf('\r\n\r\n');
  const raw = end >= 0 ? message.subarray(0, end + 4) : message;
  const root = parseMessage(raw);
  const env = envelopeData(root, raw);
  const subject = env.subject === null ? { base: '', replyOrForward: false } : baseSubject(decodeHeaderValue(env.subject));
  const from = firstMailbox(env.from);
  const to = firstMailbox(env.to);
  let references: string[] = [];
  for (const f of findFields(root.fields, 'References')) {
    references.push(...messageIds(fieldValue(raw, f), MAX_REFERENCES));
    if (references.length >= MAX_REFERENCES) break;
  }
  references = references.slice(0, MAX_REFERENCES);
  if (!references.length && env.inReplyTo !== null) references = messageIds(env.inReplyTo, 1);
  return {
    sentDate: env.date === null ? null : parseMessageDate(env.date),
    subjectKey: unicodeCasemap(subject.base),
    replyOrForward: subject.replyOrForward,
    fromKey: mailboxKey(from),
    toKey: mailboxKey(to),
    ccKey: mailboxKey(firstMailbox(env.cc)),
    displayFromKey: displayKey(from),
    displayToKey: displayKey(to),
    messageId: env.messageId === null ? null : messageIds(env.messageId, 1)[0] ?? null,
    references,
  };
}

/** Facts already worked out, per mailbox handle and UID (a message's bytes never change). */
const known = new WeakMap<Mailbox, Map<number, MessageFacts>>();

/** The facts of the given messages, in the same order; read from the store only when not known.
 *  A message gone meanwhile (NONEXISTENT) rejects: callers skip it. */
export async function messageFacts(mailbox: Mailbox, infos: readonly MessageInfo[]): Promise<(MessageFacts | null)[]> {
  await loadCharsets();
  let map = known.get(mailbox);
  if (!map) known.set(mailbox, (map = new Map()));
  const out: (MessageFacts | null)[] = new Array(infos.length);
  for (let i = 0; i < infos.length; i++) {
    const uid = infos[i]!.uid;
    let f = map.get(uid);
    if (!f) {
      try {
        f = factsOf(await mailbox.read(uid));
      } catch (e) {
        if ((e as { code?: string }).code === 'NONEXISTENT') {
          out[i] = null;
          continue;
        }
        throw e;
      }
      map.set(uid, f);
    }
    out[i] = f;
  }
  return out;
}
