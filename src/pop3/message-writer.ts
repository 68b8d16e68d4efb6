// Multi-line POP3 responses for RETR and TOP: the message is streamed from the store chunk by chunk,
// byte-stuffed (RFC 1939 §3: a line starting with '.' gets another '.'), cut after n body lines for TOP,
// and terminated with CRLF.CRLF. Output waits for the socket to drain after every chunk, so a 200 MB
// message never sits in memory and a client that stops reading cannot make us buffer it.

import type { Readable } from 'node:stream';

const DOT = 0x2e;
const LF = 0x0a;
const CR = 0x0d;

/** Byte-stuffing across chunk boundaries. */
export class DotStuffer {
  private atLineStart = true;
  private lastByte = -1;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    // Lines starting with '.' are rare: find them with one native search for "\n." per hit instead of
    // visiting every line, and copy only when a dot has to be inserted.
    let parts: Buffer[] | undefined;
    let from = 0;
    if (this.atLineStart && chunk[0] === DOT) {
      parts = [DOT_BUF];
    }
    for (let hit = chunk.indexOf(LF_DOT); hit >= 0; hit = chunk.indexOf(LF_DOT, hit + 1)) {
      (parts ??= []).push(chunk.subarray(from, hit + 1), DOT_BUF);
      from = hit + 1;
    }
    this.lastByte = chunk[chunk.length - 1]!;
    this.atLineStart = this.lastByte === LF;
    if (!parts) return chunk;
    parts.push(chunk.subarray(from));
    return Buffer.concat(parts);
  }

  /** The terminator, preceded by CRLF when the message did not end with one. */
  finish(): Buffer {
    if (this.lastByte === -1 || this.lastByte === LF) return TERMINATOR;
    return this.lastByte === CR ? Buffer.from('\n.\r\n') : Buffer.from('\r\n.\r\n');
  }
}

const DOT_BUF = Buffer.from('.');
const LF_DOT = Buffer.from('\n.');
const TERMINATOR = Buffer.from('.\r\n');

/** Passes the header and the first `bodyLines` lines of the body (TOP n). */
export class TopLimiter {
  private inBody = false;
  /** Length of the current header line so far (0 at a line start). */
  private headerLineLength = 0;
  /** Last byte of the current header line seen in an earlier chunk. */
  private headerLastByte = -1;
  private bodyLinesLeft: number;
  private done = false;

  constructor(bodyLines: number) {
    this.bodyLinesLeft = bodyLines;
  }

  get finished(): boolean {
    return this.done;
  }

  /** Returns the part of `chunk` to send; once `finished`, the rest of the message is not needed. */
  push(chunk: Buffer): Buffer {
    if (this.done) return chunk.subarray(0, 0);
    let pos = 0;
    while (!this.inBody) {
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0) {
        if (chunk.length > pos) {
          this.headerLineLength += chunk.length - pos;
          this.headerLastByte = chunk[chunk.length - 1]!;
        }
        return chunk;
      }
      const lineLength = this.headerLineLength + (nl - pos);
      const lastByte = nl > pos ? chunk[nl - 1] : this.headerLastByte;
      // An empty line (just CR or nothing before the LF) ends the header.
      const empty = lineLength === 0 || (lineLength === 1 && lastByte === CR);
      this.headerLineLength = 0;
      this.headerLastByte = -1;
      pos = nl + 1;
      if (empty) this.inBody = true;
    }
    while (this.bodyLinesLeft > 0) {
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0) return chunk;
      pos = nl + 1;
      this.bodyLinesLeft--;
    }
    this.done = true;
    return chunk.subarray(0, pos);
  }
}

export interface ResponseSink {
  write(data: string | Buffer): boolean;
  drain(): Promise<void>;
}


/**
 * Streams `source` as the body of a multi-line response. `status` is written only once the first read
 * has succeeded, so a message that vanished (expunged by IMAP meanwhile) gives a clean -ERR instead of a
 * broken response. Returns false when the message could not be read at all; throws if it failed midway
 * (the response is then unrecoverable and the caller must drop the connection).
 */
export async function streamResponse(
  sink: ResponseSink,
  status: string,
  source: Readable,
  topLines?: number,
): Promise<boolean> {
  const stuffer = new DotStuffer();
  const limiter = topLines === undefined ? undefined : new TopLimiter(topLines);
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer>;
  try {
    first = await it.next();
  } catch {
    source.destroy();
    return false;
  }
  sink.write(status);
  try {
    for (let r = first; !r.done; r = await it.next()) {
      let chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as string, 'latin1');
      if (limiter) chunk = limiter.push(chunk);
      const out = stuffer.push(chunk);
      if (out.length && !sink.write(out)) throw new Error('output buffer overflow: client is not reading');
      // Every chunk is drained before the next is read: the store may reuse its buffer (streamTransient).
      // The source's chunks are 64 KB or more, and drain() returns at once when the socket took them.
      await sink.drain();
      if (limiter?.finished) break;
    }
  } finally {
    source.destroy();
  }
  sink.write(stuffer.finish());
  return true;
}
