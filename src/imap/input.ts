// A pull-style byte queue over the connection's input. The IMAP loop awaits lines and literal bytes from
// it, so command framing, AUTHENTICATE continuations and IDLE's DONE all read from one place, in order.
// Memory is bounded by the caller's limits: a line longer than `max` is discarded while it streams in.

export interface LineResult {
  /** The line without its CRLF (or bare LF). When tooLong, only its first bytes (to recover the tag). */
  line: Buffer;
  tooLong: boolean;
}

const LF = 0x0a;
const HEAD_KEPT = 256;

export class InputQueue {
  private chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private waiter: (() => void) | null = null;
  private paused = false;

  /** With flow control: input is paused while more than `highWater` bytes wait and nobody is reading,
   *  so a client pipelining faster than we execute cannot grow our memory without bound. */
  constructor(
    private readonly flow?: { pause(): void; resume(): void; highWater: number },
  ) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Many tiny chunks (a client typing, or trickling bytes on purpose) would make every scan walk
    // a long list: fold them into one while that is cheap.
    if (this.chunks.length > 64 && this.size < 1 << 20) this.chunks = [Buffer.concat(this.chunks, this.size)];
    if (this.flow && !this.paused && !this.waiter && this.size > this.flow.highWater) {
      this.paused = true;
      this.flow.pause();
    }
    this.wake();
  }

  /** Forget everything buffered (plaintext that arrived before a TLS handshake). */
  clear(): void {
    this.chunks = [];
    this.size = 0;
  }

  /** Take everything buffered and not consumed (input that follows COMPRESS, to be inflated; or a login
   *  handed over to another process). */
  takeAll(): Buffer {
    return this.size === 0 ? Buffer.alloc(0) : this.take(this.size);
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.size;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private wait(): Promise<void> {
    if (this.paused && this.flow) {
      this.paused = false;
      this.flow.resume();
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Index of the first LF in the buffered data at or after `from`, or -1. Callers pass how far they
   *  already looked, so a line trickling in byte by byte is not rescanned from its start each time. */
  private findLf(from = 0): number {
    let offset = 0;
    for (const c of this.chunks) {
      if (offset + c.length > from) {
        const i = c.indexOf(LF, Math.max(0, from - offset));
        if (i >= 0) return offset + i;
      }
      offset += c.length;
    }
    return -1;
  }

  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.size -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  private drop(n: number): void {
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        this.chunks.shift();
        need -= c.length;
      } else {
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.size -= n;
  }

  /** Next line, or null at end of input. A line over `max` bytes is consumed but only its head kept. */
  async readLine(max: number): Promise<LineResult | null> {
    let head: Buffer | null = null;
    let checked = 0;
    for (;;) {
      const i = this.findLf(checked);
      checked = this.size;
      if (i >= 0) {
        if (head) {
          this.drop(i + 1);
          return { line: head, tooLong: true };
        }
        if (i > max + 1) {
          const line = this.take(Math.min(i, HEAD_KEPT));
          this.drop(i + 1 - line.length);
          return { line, tooLong: true };
        }
        let line = this.take(i + 1).subarray(0, i);
        if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        return { line, tooLong: false };
      }
      if (this.size > max + 1) {
        // Keep only the start (for the tag) and throw the rest away as it arrives.
        if (!head) head = Buffer.from(this.take(Math.min(this.size, HEAD_KEPT)));
        this.drop(this.size);
        checked = 0;
      }
      if (this.ended) return null;
      await this.wait();
    }
  }

  /** Exactly n bytes, or null if the input ends first. */
  async readBytes(n: number): Promise<Buffer | null> {
    while (this.size < n) {
      if (this.ended) return null;
      await this.wait();
    }
    return n === 0 ? Buffer.alloc(0) : this.take(n);
  }

  /** Consume and forget n bytes without keeping them. False if the input ends first. */
  async discard(n: number): Promise<boolean> {
    let left = n;
    for (;;) {
      const k = Math.min(left, this.size);
      this.drop(k);
      left -= k;
      if (left === 0) return true;
      if (this.ended) return false;
      await this.wait();
    }
  }
}
