// Turns the client's byte stream into command lines that the session pulls one at a time, so pipelined
// commands are answered in order and a SASL exchange can read its continuation lines inline.
// Memory is bounded: a line longer than the limit is discarded as it arrives (only its length is kept),
// and input is paused while too many complete lines wait to be processed.

export interface InputLine {
  /** The line without its CR LF (empty when tooLong). */
  readonly bytes: Buffer;
  /** The line exceeded the limit; its content was thrown away. */
  readonly tooLong: boolean;
  /** Length of the line as sent, without CR LF. */
  readonly length: number;
}

export interface FlowControl {
  pause(): void;
  resume(): void;
}

const LF = 0x0a;
const CR = 0x0d;

export class LineQueue {
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Bytes of the current over-long line seen so far, or -1 while the line is within the limit. */
  private discarding = -1;
  private readonly ready: InputLine[] = [];
  private readyBytes = 0;
  private paused = false;
  private ended = false;
  private waiter: ((line: InputLine | null) => void) | null = null;

  constructor(
    private readonly maxLineLength: number,
    private readonly flow: FlowControl,
    /** Queued bytes above which input is paused until the session catches up. */
    private readonly maxQueued = 256 * 1024,
  ) {}

  push(chunk: Buffer): void {
    if (this.ended) return;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const end = nl < 0 ? chunk.length : nl;
      this.take(chunk.subarray(start, end));
      if (nl < 0) break;
      this.finishLine();
      start = nl + 1;
    }
    if (!this.paused && this.readyBytes > this.maxQueued) {
      this.paused = true;
      this.flow.pause();
    }
  }

  /** The client went away: pending complete lines are still delivered, then null. */
  end(): void {
    this.ended = true;
    this.partial = [];
    this.partialLength = 0;
    if (this.waiter && this.ready.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }

  /** Drop everything buffered (after STLS: plaintext sent before the handshake must not be obeyed). */
  clear(): void {
    this.ready.length = 0;
    this.readyBytes = 0;
    this.partial = [];
    this.partialLength = 0;
    this.discarding = -1;
    this.resumeIfPaused();
  }

  /** Next line, or null once the connection has ended and nothing is left. */
  next(): Promise<InputLine | null> {
    const line = this.ready.shift();
    if (line) {
      this.readyBytes -= line.bytes.length + 2;
      if (this.readyBytes <= this.maxQueued / 2) this.resumeIfPaused();
      return Promise.resolve(line);
    }
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private resumeIfPaused(): void {
    if (this.paused) {
      this.paused = false;
      this.flow.resume();
    }
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.discarding >= 0) {
      this.discarding += piece.length;
      return;
    }
    // +1 allows for the CR that normally precedes the LF.
    if (this.partialLength + piece.length > this.maxLineLength + 1) {
      this.discarding = this.partialLength + piece.length;
      this.partial = [];
      this.partialLength = 0;
      return;
    }
    // Copy: the chunk's memory may be reused by the transport.
    this.partial.push(Buffer.from(piece));
    this.partialLength += piece.length;
  }

  private finishLine(): void {
    let line: InputLine;
    if (this.discarding >= 0) {
      line = { bytes: Buffer.alloc(0), tooLong: true, length: this.discarding };
      this.discarding = -1;
    } else {
      let bytes = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial, this.partialLength);
      if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
      line = bytes.length > this.maxLineLength
        ? { bytes: Buffer.alloc(0), tooLong: true, length: bytes.length }
        : { bytes, tooLong: false, length: bytes.length };
    }
    this.partial = [];
    this.partialLength = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(line);
      return;
    }
    this.ready.push(line);
    this.readyBytes += line.bytes.length + 2;
  }
}
