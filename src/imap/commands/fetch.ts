// FETCH / UID FETCH. Whole-message bodies are streamed from the store (a 50 MB BODY[] is never held
// twice); ENVELOPE, BODY, BODYSTRUCTURE and HEADER.FIELDS are the store's facts (fetch-facts.ts); other
// sections read the message once per FETCH response.
import type { Readable } from 'node:stream';
import { StoreError, type FactsRequest, type MessageFacts, type MessageInfo } from '../../store/types.js';
import type { Command, ImapSession } from '../session.js';
import type { Selected } from '../selected.js';
import { parseFetchItems, parseFetchModifiers, type FetchItem, type FetchModifiers } from '../fetch-items.js';
import { ParseError } from '../args.js';
import { parseSequenceSet } from '../sequence.js';
import { vanishedSince } from '../qresync.js';
import { imapDateTime } from '../wire.js';
import { messageSection } from '../message-data.js';
import { FetchFacts, fieldsKey, fromFacts, type FetchedFacts } from '../fetch-facts.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected, resolveSet } from './helpers.js';
import { binaryPieces, binarySize, UnknownCte } from '../fetch-binary.js';
import { partialSlice } from './search.js';

type Part = string | Buffer | { stream: () => Readable; length: number };

export async function fetch(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const set = a.sequenceSet();
  a.sp();
  const items = parseFetchItems(a);
  let mods: FetchModifiers = {};
  if (!a.atEnd) {
    a.sp();
    mods = parseFetchModifiers(a);
  }
  a.end();
  // RFC 7162 §3.2.6: VANISHED only in UID FETCH, once QRESYNC is enabled.
  if (mods.vanished && !c.uid) throw new ParseError('VANISHED is only allowed in UID FETCH');
  if (mods.vanished && !s.enabled.qresync) throw new ParseError('VANISHED needs ENABLE QRESYNC');
  // RFC 9394 §3.3: PARTIAL pages UID FETCH only.
  if (mods.partial && !c.uid) throw new ParseError('PARTIAL is only allowed in UID FETCH');
  let idx = resolveSet(sel, set, c.uid);
  if (c.uid && !items.some((i) => i.type === 'UID')) items.unshift({ type: 'UID' });
  const changedSince = mods.changedSince;
  if (changedSince !== undefined || items.some((i) => i.type === 'MODSEQ')) {
    s.enableCondstore();
    if (!items.some((i) => i.type === 'MODSEQ')) items.push({ type: 'MODSEQ' });
  }
  if (mods.vanished) {
    const gone = await vanishedSince(sel, changedSince!, parseSequenceSet(set));
    if (gone) s.untagged(`VANISHED (EARLIER) ${gone}`);
    // Those were just reported: no FETCH data for them.
    idx = idx.filter((i) => sel.exists(i));
  }
  if (changedSince !== undefined) idx = idx.filter((i) => sel.current(i).modseq > changedSince);
  // RFC 9394 §3.3: only the messages at those positions of what the command would answer (in UID order).
  if (mods.partial) idx = partialSlice(mods.partial, idx);
  const setsSeen = !sel.readOnly && items.some((i) => (i.type === 'SECTION' || i.type === 'BINARY') && !i.peek);
  let missing = false;
  let unknownCte: string | null = null;
  if (setsSeen) {
    const unseen = idx.filter((i) => sel.exists(i) && !sel.current(i).flags.has('\\Seen')).map((i) => sel.view[i]!.uid);
    if (unseen.length) await sel.mailbox.setFlags(unseen, 'add', ['\\Seen']);
  }
  // Only metadata (the common FETCH 1:* (FLAGS) of a client opening a mailbox), perhaps with ENVELOPE,
  // BODY or BODYSTRUCTURE from the store's facts: answered without a promise, a parts array or a buffer
  // per message.
  if (!setsSeen && items.every((i) => SIMPLE.has(i.type) || LINE_FACTS.has(i.type))) {
    const gone = await fetchSimple(s, sel, idx, items);
    if (gone && !c.uid) return no('[EXPUNGEISSUED] Some of the requested messages no longer exist');
    return ok(`${c.uid ? 'UID ' : ''}FETCH completed`);
  }
  // ENVELOPE, BODY, BODYSTRUCTURE and HEADER.FIELDS come from the store's facts (cached per mailbox).
  const facts = FetchFacts.for(sel.mailbox, idx.map((i) => sel.view[i]!.uid), items);
  for (const i of idx) {
    if (s.dead) break;
    // A message another session expunged that this client was not told of yet answers with what the
    // client knew of it, and its bytes, which the store keeps until this session acknowledges.
    const info = sel.current(i);
    const told = sel.view[i]!.info;
    const implicitFlags = setsSeen && !told.flags.has('\\Seen') && info.flags.has('\\Seen');
    const wantFlags = items.some((x) => x.type === 'FLAGS') || implicitFlags;
    const got = facts ? await facts.next(info.uid) : null;
    const parts = got && !got.facts.exists ? null : await renderMessage(sel, info, items, wantFlags, implicitFlags && s.enabled.condstore, got).catch((err: unknown) => {
      // Removed by a program outside the store's rules (the store itself keeps the bytes).
      if (err instanceof StoreError && err.code === 'NONEXISTENT') return null;
      // RFC 3516: a transfer encoding we cannot remove fails the command (the other messages answer).
      if (err instanceof UnknownCte) {
        unknownCte = err.encoding;
        return 'skip' as const;
      }
      throw err;
    });
    if (parts === 'skip') continue;
    if (!parts) {
      missing = true;
      continue;
    }
    if (wantFlags) {
      for (const l of sel.announce(info.flags)) s.line(l);
      sel.told(i, info);
    }
    if (s.enabled.condstore && (implicitFlags || items.some((x) => x.type === 'MODSEQ'))) sel.modseqSent = true;
    await writeParts(s, `* ${i + 1} FETCH (`, parts);
    await s.drainIfBusy();
  }
  await facts?.close();
  // Only when the bytes are really gone (a foreign program removed the file): by UID the message is
  // simply absent (RFC 3501 §6.4.8); by sequence number the client hears why it got nothing.
  if (unknownCte !== null) return no(`[UNKNOWN-CTE] Can't decode the Content-Transfer-Encoding ${JSON.stringify(unknownCte)}`);
  if (missing && !c.uid) return no('[EXPUNGEISSUED] Some of the requested messages no longer exist');
  return ok(`${c.uid ? 'UID ' : ''}FETCH completed`);
}

/** Items answered from MessageInfo alone. */
const SIMPLE: ReadonlySet<FetchItem['type']> = new Set(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ']);

/** Facts items fetchSimple also answers (one string each, from Mailbox.facts). */
const LINE_FACTS: ReadonlySet<FetchItem['type']> = new Set(['ENVELOPE', 'BODY', 'BODYSTRUCTURE']);
/** Messages whose facts are asked for in one Mailbox.facts() call. */
const FACTS_BATCH = 512;

/** FETCH of SIMPLE and LINE_FACTS items only, nothing set implicitly: the same bytes renderMessage and
 *  writeParts produce, built as one string per batch of messages. Flag sets are shared between messages
 *  by the store (immutable by contract), so each set's text and its keyword announcement are done once.
 *  Facts come in batches of FACTS_BATCH messages. Returns whether a message's bytes were gone (it is
 *  then left out, as the general path does). */
async function fetchSimple(s: ImapSession, sel: Selected, idx: readonly number[], items: readonly FetchItem[]): Promise<boolean> {
  const wantFlags = items.some((x) => x.type === 'FLAGS');
  const want: { -readonly [K in keyof FactsRequest]: FactsRequest[K] } = {};
  for (const x of items) {
    if (x.type === 'ENVELOPE') want.envelope = true;
    else if (x.type === 'BODY') want.body = true;
    else if (x.type === 'BODYSTRUCTURE') want.bodyStructure = true;
  }
  const withFacts = want.envelope || want.body || want.bodyStructure;
  let batch: MessageFacts[] = [];
  let batchAt = 0;
  let gone = false;
  const flagText = new Map<ReadonlySet<string>, string>();
  const recentText = new Map<ReadonlySet<string>, string>();
  const announced = new Set<ReadonlySet<string>>();
  let text = '';
  let sent = false;
  // The view usually lines up with the store's messages: no search by UID then.
  const msgs = sel.mailbox.state.messages;
  for (let n = 0; n < idx.length; n++) {
    if (s.dead) break;
    const i = idx[n]!;
    const e = sel.view[i]!;
    let f: MessageFacts | undefined;
    if (withFacts) {
      if (n - batchAt >= batch.length) {
        batchAt = n;
        const uids = idx.slice(n, n + FACTS_BATCH).map((k) => sel.view[k]!.uid);
        // One batch at a time (memory stays bounded): what the store's cache holds comes in one pass.
        batch = await sel.mailbox.factsAll(uids, want);
        if (s.dead) break;
      }
      f = batch[n - batchAt];
      if (!f || f.uid !== e.uid) throw new Error(`facts out of step at UID ${e.uid}`);
      if (!f.exists) {
        gone = true;
        continue;
      }
    }
    const m = msgs[i];
    const info = !e.gone && m !== undefined && m.uid === e.uid ? m : sel.current(i);
    let line = `* ${i + 1} FETCH (`;
    for (let k = 0; k < items.length; k++) {
      if (k) line += ' ';
      switch (items[k]!.type) {
        case 'UID':
          line += `UID ${info.uid}`;
          break;
        case 'FLAGS': {
          const cache = info.recent ? recentText : flagText;
          let f = cache.get(info.flags);
          if (f === undefined) { f = sel.flagsOf(info); cache.set(info.flags, f); }
          line += `FLAGS ${f}`;
          break;
        }
        case 'INTERNALDATE':
          line += `INTERNALDATE ${imapDateTime(info.internalDate)}`;
          break;
        case 'RFC822.SIZE':
          line += `RFC822.SIZE ${info.size}`;
          break;
        case 'MODSEQ':
          line += `MODSEQ (${info.modseq})`;
          break;
        case 'ENVELOPE':
          line += `ENVELOPE ${f!.envelope!}`;
          break;
        case 'BODY':
          line += `BODY ${f!.body!}`;
          break;
        case 'BODYSTRUCTURE':
          line += `BODYSTRUCTURE ${f!.bodyStructure!}`;
          break;
      }
    }
    if (wantFlags) {
      if (!announced.has(info.flags)) {
        announced.add(info.flags);
        for (const l of sel.announce(info.flags)) text += l + '\r\n';
      }
      sel.told(i, info);
    }
    text += line + ')\r\n';
    sent = true;
    if (text.length >= 32 * 1024) {
      s.write(text);
      text = '';
      await s.drainIfBusy();
    }
  }
  if (text) s.write(text);
  if (sent && s.enabled.condstore && items.some((x) => x.type === 'MODSEQ')) sel.modseqSent = true;
  return gone;
}

/** `implicitModseq`: FLAGS are sent because the FETCH set \\Seen, and CONDSTORE is on: RFC 7162 §3.1
 *  wants UID and MODSEQ with every such untagged FETCH. */
async function renderMessage(sel: Selected, info: MessageInfo, items: FetchItem[], wantFlags: boolean, implicitModseq: boolean, got: FetchedFacts | null): Promise<Part[]> {
  const needsRaw = items.some(
    (i) => (i.type === 'SECTION' && !fromFacts(i) && (i.section.path.length > 0 || i.section.kind))
      || i.type === 'BINARY' || i.type === 'BINARY.SIZE',
  );
  const raw = needsRaw ? await sel.mailbox.read(info.uid) : null;
  const out: Part[] = [];
  const sep = () => {
    if (out.length) out.push(' ');
  };
  let flagsDone = false;
  for (const item of items) {
    sep();
    switch (item.type) {
      case 'UID':
        out.push(`UID ${info.uid}`);
        break;
      case 'FLAGS':
        out.push(`FLAGS ${sel.flagsOf(info)}`);
        flagsDone = true;
        break;
      case 'INTERNALDATE':
        out.push(`INTERNALDATE ${imapDateTime(info.internalDate)}`);
        break;
      case 'RFC822.SIZE':
        out.push(`RFC822.SIZE ${info.size}`);
        break;
      case 'MODSEQ':
        out.push(`MODSEQ (${info.modseq})`);
        break;
      case 'ENVELOPE':
        out.push(`ENVELOPE ${got!.facts.envelope!}`);
        break;
      case 'BODY':
        out.push(`BODY ${got!.facts.body!}`);
        break;
      case 'BODYSTRUCTURE':
        out.push(`BODYSTRUCTURE ${got!.facts.bodyStructure!}`);
        break;
      case 'SECTION': {
        const whole = item.section.path.length === 0 && !item.section.kind;
        if (whole && !raw) {
          // Stream straight from the store: start/length clipped to the message size.
          const start = Math.min(item.partial?.start ?? 0, info.size);
          const end = item.partial ? Math.min(info.size, start + item.partial.length) : info.size;
          out.push(`${item.label} `);
          if (end <= start) out.push('""');
          else {
            out.push(`{${end - start}}\r\n`);
            out.push({ stream: () => sel.mailbox.streamTransient(info.uid, start, end), length: end - start });
          }
          break;
        }
        let data = fromFacts(item) ? got!.headerFields.get(fieldsKey(item.section.fields))! : whole ? raw! : await messageSection(raw!, item.section);
        if (item.partial) {
          const start = Math.min(item.partial.start, data.length);
          data = data.subarray(start, Math.min(data.length, start + item.partial.length));
        }
        out.push(`${item.label} {${data.length}}\r\n`, data);
        break;
      }
      case 'BINARY':
        out.push(...binaryPieces(raw!, item.path, item.label, item.partial));
        break;
      case 'BINARY.SIZE':
        out.push(binarySize(raw!, item.path, item.label));
        break;
    }
  }
  if (wantFlags && !flagsDone) {
    sep();
    out.push(`FLAGS ${sel.flagsOf(info)}`);
  }
  if (implicitModseq) {
    if (!items.some((i) => i.type === 'UID')) out.push(` UID ${info.uid}`);
    if (!items.some((i) => i.type === 'MODSEQ')) out.push(` MODSEQ (${info.modseq})`);
  }
  return out;
}

async function writeParts(s: ImapSession, head: string, parts: Part[]): Promise<void> {
  let text = head;
  for (const p of parts) {
    if (typeof p === 'string') {
      text += p;
      continue;
    }
    s.write(text);
    text = '';
    if (Buffer.isBuffer(p)) s.write(p);
    else await pipeExactly(s, p.stream(), p.length);
  }
  s.write(text + ')\r\n');
}

/** Copy exactly `length` bytes (the literal size already announced): pad with spaces if the message
 *  shrank underneath us, cut if it grew, so the protocol stream stays in sync. */
async function pipeExactly(s: ImapSession, stream: Readable, length: number): Promise<void> {
  let sent = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (s.dead) break;
      const c = chunk.length > length - sent ? chunk.subarray(0, length - sent) : chunk;
      if (c.length) s.write(c);
      sent += c.length;
      if (sent >= length) break;
      // Every chunk is drained before the next is read (streamTransient relies on it).
      s.flush();
      await s.conn.drain();
    }
  } catch (e) {
    // The literal length is already on the wire: finish it so the client stays in step.
    s.log.warn({ err: String(e) }, 'message vanished while being sent');
  } finally {
    stream.destroy();
  }
  if (sent < length) s.write(Buffer.alloc(length - sent, 0x20));
}
