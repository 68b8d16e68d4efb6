// Turns the client's byte stream into command lines that the session pulls one at a time, so pipelined
// commands are answered in order and a SASL exchange can read its continuation lines inline.
// Memory is bounded: a line longer than the limit is discarded as it arrives (only its length is kept),
// and input is paused while too much unread input waits (lines are cut only when the session asks).

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
  /** Resolves once the client reads its answers again (see Connection.writable). */
  writable?(): Promise<void>;
}

const LF = 0x0a;
const CR = 0x0d;

export class LineQueue {
  /** Input not yet cut into lines: lines are made only when the session asks for one, so what waits
   *  is raw bytes (bounded by maxQueued and the paused socket), never one object per pipelined command. */
  private raw: Buffer[] = [];
  private rawBytes = 0;
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Bytes of the current over-long line seen so far, or -1 while the line is within the limit. */
  private discarding = -1;
  private paused = false;
  private ended = false;
  private waiter: ((line: InputLine | null) => void) | null = null;

  constructor(
    private readonly maxLineLength: number,
    private readonly flow: FlowControl,
    /** Unread input bytes above which input is paused until the session catches up. */
    private readonly maxQueued = 64 * 1024,
  ) {}

  push(chunk: Buffer): void {
    if (this.ended || chunk.length === 0) return;
    this.raw.push(chunk);
    this.rawBytes += chunk.length;
    if (this.waiter) {
      const line = this.cut();
      if (line) {
        const w = this.waiter;
        this.waiter = null;
        w(line);
      }
    }
    if (!this.paused && this.rawBytes > this.maxQueued) {
      this.paused = true;
      this.flow.pause();
    }
  }

  /** The client went away: complete lines already received are still delivered, then null. */
  end(): void {
    this.ended = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(this.cut());
    }
  }

  /** Everything received and not yet cut into a line, removed from the queue (a login handed over
   *  elsewhere). A line being discarded for its length is not carried. */
  takeAll(): Buffer {
    const head = this.discarding >= 0 ? [] : this.partial;
    const all = Buffer.concat([...head, ...this.raw]);
    this.clear();
    return all;
  }

  /** Drop everything buffered (after STLS: plaintext sent before the handshake must not be obeyed). */
  clear(): void {
    this.raw = [];
    this.rawBytes = 0;
    this.partial = [];
    this.partialLength = 0;
    this.discarding = -1;
    this.resumeIfPaused();
  }

  /** Next line, or null once the connection has ended and nothing is left. While the client is not
   *  reading our answers, the next line waits: pipelined commands must not pile up answers. */
  async next(): Promise<InputLine | null> {
    await this.flow.writable?.();
    const line = this.cut();
    if (this.rawBytes <= this.maxQueued / 2) this.resumeIfPaused();
    if (line || this.ended) return line;
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

  /** The next complete line from the raw input, or null if there is none yet (a partial line stays). */
  private cut(): InputLine | null {
    while (this.raw.length > 0) {
      const c = this.raw[0]!;
      const nl = c.indexOf(LF);
      if (nl < 0) {
        this.take(c);
        this.raw.shift();
        this.rawBytes -= c.length;
        continue;
      }
      this.take(c.subarray(0, nl));
      this.rawBytes -= nl + 1;
      if (nl + 1 < c.length) this.raw[0] = c.subarray(nl + 1);
      else this.raw.shift();
      return this.finishLine();
    }
    if (this.ended) {
      // An unterminated last line is not a command.
      this.partial = [];
      this.partialLength = 0;
    }
    return null;
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
    // Copy: the line outlives the chunk it came in (which may be large).
    this.partial.push(Buffer.from(piece));
    this.partialLength += piece.length;
  }

  private finishLine(): InputLine {
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
    return line;
  }
}
