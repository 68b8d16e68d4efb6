// TRANSACTION-state commands (RFC 1939 §5, LAST from RFC 1460). Message numbers refer to the login
// snapshot (maildrop.ts); RETR and TOP stream from the store by UID.

import type { Connection } from '../transport/types.js';
import type { Logger } from '../log/types.js';
import type { Mailbox } from '../store/types.js';
import type { Maildrop } from './maildrop.js';
import { streamResponse } from './message-writer.js';
import { err, ok } from './responses.js';

/** Lines of LIST/UIDL output written before waiting for the socket (large maildrops). */
const LISTING_BATCH = 2000;

export type Pop3State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE' | 'CLOSED';

/** What the TRANSACTION commands need of the session (session.ts implements it; no import back). */
export interface TransactionSession {
  readonly conn: Connection;
  readonly log: Logger;
  /** The login snapshot. */
  readonly maildrop: Maildrop | undefined;
  /** INBOX, open from login to QUIT and never acknowledged: every message of the listing stays
   *  readable even after another session expunged it (the store's deferred removal). */
  readonly mailbox: Mailbox | undefined;
  state: Pop3State;
  send(text: string): boolean;
  armIdleTimer(): void;
}

/** Handles a TRANSACTION command; false if `keyword` is not one. */
export async function transactionCommand(s: TransactionSession, keyword: string, rest: string): Promise<boolean> {
  const drop = s.maildrop!;
  const args = rest.trim() === '' ? [] : rest.trim().split(/ +/);
  switch (keyword) {
    case 'STAT': {
      if (args.length) return reply(s, err('STAT takes no arguments'));
      const { count, octets } = drop.stat();
      return reply(s, ok(`${count} ${octets}`));
    }
    case 'LIST':
    case 'UIDL':
      return listing(s, drop, keyword, args);
    case 'RETR': {
      if (args.length !== 1) return reply(s, err('Syntax: RETR msg'));
      const n = messageNumber(s, drop, args[0]!);
      if (n === undefined) return true;
      await sendMessage(s, drop, n);
      return true;
    }
    case 'TOP': {
      if (args.length !== 2) return reply(s, err('Syntax: TOP msg lines'));
      const n = messageNumber(s, drop, args[0]!);
      if (n === undefined) return true;
      if (!/^\d+$/.test(args[1]!)) return reply(s, err('Line count must be a non-negative number'));
      // Any count: huge ones just mean "the whole body".
      const lines = args[1]!.length > 15 ? Number.MAX_SAFE_INTEGER : Number(args[1]);
      await sendMessage(s, drop, n, lines);
      return true;
    }
    case 'DELE': {
      if (args.length !== 1) return reply(s, err('Syntax: DELE msg'));
      const n = messageNumber(s, drop, args[0]!);
      if (n === undefined) return true;
      drop.markDeleted(n);
      return reply(s, ok(`message ${n} deleted`));
    }
    case 'RSET': {
      if (args.length) return reply(s, err('RSET takes no arguments'));
      drop.reset();
      const { count, octets } = drop.stat();
      return reply(s, ok(`maildrop has ${count} messages (${octets} octets)`));
    }
    case 'NOOP':
      return reply(s, ok(''));
    case 'LAST':
      if (args.length) return reply(s, err('LAST takes no arguments'));
      return reply(s, ok(String(drop.last)));
    default:
      return false;
  }
}

function reply(s: TransactionSession, text: string): true {
  s.send(text);
  return true;
}

/** Parses a message number and checks it names a live message; answers -ERR itself otherwise. */
function messageNumber(s: TransactionSession, drop: Maildrop, arg: string): number | undefined {
  if (!/^\d{1,15}$/.test(arg)) {
    s.send(err(`Invalid message number: ${arg.slice(0, 40)}`));
    return undefined;
  }
  const n = Number(arg);
  if (!drop.message(n)) {
    s.send(err(`No such message ${n}`));
    return undefined;
  }
  if (drop.isDeleted(n)) {
    s.send(err(`Message ${n} already deleted`));
    return undefined;
  }
  return n;
}

async function listing(s: TransactionSession, drop: Maildrop, keyword: 'LIST' | 'UIDL', args: string[]): Promise<true> {
  const entry = (n: number) => `${n} ${keyword === 'LIST' ? drop.message(n)!.size : drop.uidl(n)}`;
  if (args.length > 1) return reply(s, err(`Syntax: ${keyword} [msg]`));
  if (args.length === 1) {
    const n = messageNumber(s, drop, args[0]!);
    if (n !== undefined) s.send(ok(entry(n)));
    return true;
  }
  const { count, octets } = drop.stat();
  s.send(ok(keyword === 'LIST' ? `${count} messages (${octets} octets)` : `${count} messages`));
  let batch: string[] = [];
  for (const n of drop.live()) {
    batch.push(entry(n));
    if (batch.length >= LISTING_BATCH) {
      s.send(batch.join('\r\n') + '\r\n');
      batch = [];
      await s.conn.drain();
    }
  }
  // Neither sizes nor unique-ids (0x21-0x7E) can start a line with '.', so no stuffing is needed.
  s.send(batch.map((l) => l + '\r\n').join('') + '.\r\n');
  return true;
}

async function sendMessage(s: TransactionSession, drop: Maildrop, n: number, topLines?: number): Promise<void> {
  const msg = drop.message(n)!;
  const status = topLines === undefined ? ok(`${msg.size} octets`) : ok('top of message follows');
  let source;
  try {
    // streamResponse drains every chunk before reading the next: the store may reuse its buffers.
    source = s.mailbox!.streamTransient(msg.uid);
  } catch (e) {
    s.log.warn({ uid: msg.uid, err: (e as Error).message }, 'message unreadable');
    s.send(err(`[SYS/TEMP] Message ${n} cannot be read now`));
    return;
  }
  const sink = {
    write: (d: string | Buffer) => s.conn.write(d),
    // Re-arm the idle timer while a slow client is still taking a big message.
    drain: async () => { await s.conn.drain(); s.armIdleTimer(); },
  };
  let sent: boolean;
  try {
    sent = await streamResponse(sink, status, source, topLines);
  } catch (e) {
    // Half a response cannot be taken back: drop the connection (nothing is deleted without QUIT).
    s.log.error({ uid: msg.uid, err: (e as Error).message }, 'message stream failed midway; closing');
    s.state = 'CLOSED';
    return;
  }
  if (!sent) {
    // Another session's EXPUNGE cannot cause this (the store keeps the bytes for this handle until it
    // closes at QUIT); only a program that rewrote the mailbox behind the store's back can.
    s.log.warn({ uid: msg.uid }, 'message vanished from the store (removed outside the store)');
    s.send(err(`[SYS/TEMP] Message ${n} is no longer available`));
    return;
  }
  if (topLines === undefined) drop.markRetrieved(n);
}
