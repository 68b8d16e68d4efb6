// FETCH / UID FETCH. Whole-message bodies are streamed from the store (a 50 MB BODY[] is never held
// twice); anything that needs MIME structure reads the message once per FETCH response.
import type { Readable } from 'node:stream';
import { StoreError, type Mailbox, type MessageInfo } from '../../store/types.js';
import type { Command, ImapSession } from '../session.js';
import type { Selected } from '../selected.js';
import { parseFetchItems, type FetchItem } from '../fetch-items.js';
import { flagList, imapDateTime } from '../wire.js';
import { messageBodyStructure, messageEnvelope, messageSection } from '../message-data.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected, resolveSet } from './helpers.js';

type Part = string | Buffer | { stream: () => Readable; length: number };

export async function fetch(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const set = a.sequenceSet();
  a.sp();
  const items = parseFetchItems(a);
  a.end();
  const idx = resolveSet(sel, set, c.uid);
  if (c.uid && !items.some((i) => i.type === 'UID')) items.unshift({ type: 'UID' });
  const setsSeen = !sel.readOnly && items.some((i) => i.type === 'SECTION' && !i.peek);
  let missing = false;
  if (setsSeen) {
    const unseen = idx.map((i) => sel.view[i]!).filter((e) => !e.gone && sel.info(e.uid) && !sel.info(e.uid)!.flags.has('\\Seen'));
    if (unseen.length) await sel.mailbox.setFlags(unseen.map((e) => e.uid), 'add', ['\\Seen']);
  }
  for (const i of idx) {
    if (s.dead) break;
    const e = sel.view[i]!;
    const info = e.gone ? undefined : sel.info(e.uid);
    if (!info) {
      missing = true;
      continue;
    }
    const wantFlags = items.some((x) => x.type === 'FLAGS') || (setsSeen && !e.flags.has('\\Seen'));
    const parts = await renderMessage(sel, info, items, wantFlags).catch((err: unknown) => {
      if (err instanceof StoreError && err.code === 'NONEXISTENT') return null; // expunged meanwhile
      throw err;
    });
    if (!parts) {
      missing = true;
      continue;
    }
    if (wantFlags) sel.told(i, info.flags);
    await writeParts(s, `* ${i + 1} FETCH (`, parts);
    await s.drainIfBusy();
  }
  // By UID a vanished message is simply not there any more (RFC 3501 §6.4.8); by sequence number the
  // client named it explicitly, so it hears why it got nothing (RFC 2180 §4.1.2, as Dovecot).
  if (missing && !c.uid) return no('[EXPUNGEISSUED] Some of the requested messages no longer exist');
  return ok(`${c.uid ? 'UID ' : ''}FETCH completed`);
}

async function renderMessage(sel: Selected, info: MessageInfo, items: FetchItem[], wantFlags: boolean): Promise<Part[]> {
  const needsRaw = items.some(
    (i) => i.type === 'ENVELOPE' || i.type === 'BODY' || i.type === 'BODYSTRUCTURE' || (i.type === 'SECTION' && (i.section.path.length > 0 || i.section.kind)),
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
        out.push(`FLAGS ${flagList(info.flags, info.recent)}`);
        flagsDone = true;
        break;
      case 'INTERNALDATE':
        out.push(`INTERNALDATE ${imapDateTime(info.internalDate)}`);
        break;
      case 'RFC822.SIZE':
        out.push(`RFC822.SIZE ${info.size}`);
        break;
      case 'ENVELOPE':
        out.push(`ENVELOPE ${await messageEnvelope(raw!)}`);
        break;
      case 'BODY':
        out.push(`BODY ${await messageBodyStructure(raw!, false)}`);
        break;
      case 'BODYSTRUCTURE':
        out.push(`BODYSTRUCTURE ${await messageBodyStructure(raw!, true)}`);
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
            out.push({ stream: () => transientStream(sel.mailbox, info.uid, start, end), length: end - start });
          }
          break;
        }
        let data = whole ? raw! : await messageSection(raw!, item.section);
        if (item.partial) {
          const start = Math.min(item.partial.start, data.length);
          data = data.subarray(start, Math.min(data.length, start + item.partial.length));
        }
        out.push(`${item.label} {${data.length}}\r\n`, data);
        break;
      }
    }
  }
  if (wantFlags && !flagsDone) {
    sep();
    out.push(`FLAGS ${flagList(info.flags, info.recent)}`);
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

/** pipeExactly is done with each chunk (written and drained) before it reads the next, so it may use a
 *  store's stream whose big-message pieces reuse their buffers (mbox: constant memory for a 50 MB FETCH). */
function transientStream(box: Mailbox, uid: number, start: number, end: number): Readable {
  const b = box as Mailbox & { streamTransient?: Mailbox['stream'] };
  return b.streamTransient ? b.streamTransient(uid, start, end) : box.stream(uid, start, end);
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
      // Every chunk is drained before the next is read (transientStream relies on it).
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
