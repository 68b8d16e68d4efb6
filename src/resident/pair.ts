// Connected pairs of Unix sockets for TLS connections that log in. Node cannot move a TLS session's state
// to another process, so the pre-login process keeps the TLS end and gives the worker the far end of a
// pair carrying cleartext. Node has no socketpair(), so each pre-login process listens on a Unix socket in
// a private 0700 directory of its own and connects to itself; a random token sent over the new connection
// proves that the accepted socket is the one we connected (another process of the same uid could connect
// too: its connection carries no token of ours and is dropped).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TOKEN = 16;

export class PairMaker {
  private server: Server | undefined;
  private dir: string | undefined;
  private path = '';
  private readonly waiting = new Map<string, (far: Socket) => void>();

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'dmail-pair-'));
    this.path = join(this.dir, 's');
    this.server = createServer({ pauseOnConnect: true }, (s) => this.accepted(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.path, () => resolve());
    });
  }

  private accepted(s: Socket): void {
    let got = Buffer.alloc(0);
    const t = setTimeout(() => s.destroy(), 5000);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < TOKEN) return;
      clearTimeout(t);
      s.removeListener('data', onData);
      s.pause();
      const done = this.waiting.get(got.subarray(0, TOKEN).toString('hex'));
      if (!done || got.length !== TOKEN) { s.destroy(); return; }
      this.waiting.delete(got.subarray(0, TOKEN).toString('hex'));
      done(s);
    };
    s.on('data', onData);
    s.on('error', () => s.destroy());
    s.resume();
  }

  /** A connected pair: `near` stays here, `far` (not reading) is for another process. */
  async pair(): Promise<{ near: Socket; far: Socket }> {
    if (!this.server) throw new Error('pair maker not started');
    const token = randomBytes(TOKEN);
    const key = token.toString('hex');
    const farP = new Promise<Socket>((resolve) => this.waiting.set(key, resolve));
    const near = connect(this.path);
    await new Promise<void>((resolve, reject) => { near.once('connect', resolve); near.once('error', reject); });
    near.write(token);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('socket pair timed out')), 5000).unref());
    try {
      const far = await Promise.race([farP, timeout]);
      // Stop the far end's reading at once: every byte is for the process it goes to.
      const h = (far as unknown as { _handle?: { readStop?: () => number; reading?: boolean } })._handle;
      if (h?.readStop) { h.reading = false; h.readStop(); }
      return { near, far };
    } catch (e) {
      this.waiting.delete(key);
      near.destroy();
      throw e;
    }
  }

  close(): void {
    this.server?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
