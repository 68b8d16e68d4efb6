// The one Connection implementation: bytes in from a readable stream, bytes out to a writable one (the
// same socket under inetd, or stdin/stdout pipes), with TLS upgrade, DEFLATE compression (IMAP COMPRESS,
// RFC 4978), idle timeout and an output cap.
//
// Compression sits above TLS: what the protocol writes goes through a raw deflater (a sync flush after
// each burst of writes, so every response reaches the client whole) and then to the socket or the TLS
// layer; what arrives is inflated before the protocol sees it. The protections hold through it: the
// output cap and backpressure count the bytes waiting in the deflater as well as those waiting for the
// socket, and the inflater is paused with the input, so a small compressed input (a "zip bomb") can
// only ever produce what the protocol asks for — its line and literal limits see the inflated bytes.

import { Duplex, type Readable, type Writable } from 'node:stream';
import { constants as zc, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Connection } from './types.js';
import { makeSecureContext, type TlsSettings } from './tls.js';

/** After the client half-closes, how long the server may stay silent before the connection is closed —
 *  only for a protocol that registered no onEnd handler (a protocol that did decides itself: it answers
 *  what was buffered, then calls end() at once). */
export const EOF_GRACE_MS = 3000;

/** Output backpressure. Above OUTPUT_HIGH_WATER bytes queued for a client that is not reading, input is
 *  no longer read (and protocols wait in writable() before the next command); below OUTPUT_LOW_WATER
 *  both go on. Every queued write also counts WRITE_OVERHEAD bytes for the bookkeeping Node keeps per
 *  write (request object, callback): 200,000 tiny answers cost far more than their text. */
export const OUTPUT_HIGH_WATER = 256 * 1024;
export const OUTPUT_LOW_WATER = 64 * 1024;
export const WRITE_OVERHEAD = 256;

/** startTls() failed because the client went away before the handshake was done (no error of ours). */
export class HandshakeEnded extends Error {
  constructor() { super('connection closed during the TLS handshake'); }
}

export type CloseReason = 'eof' | 'error' | 'timeout' | 'overflow' | 'closed';

export interface StreamConnectionOptions {
  input: Readable;
  /** May be the same object as `input` (a socket). */
  output: Writable;
  remoteAddress: string;
  remotePort?: number;
  localAddress: string;
  localPort?: number;
  /** Drop the client when this many bytes of output are waiting to be sent. */
  maxOutput: number;
  tls: TlsSettings;
  /** false: refuse startCompression (see Connection.compressionAvailable). Default true. */
  compression?: boolean;
}

export class StreamConnection implements Connection {
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly localAddress: string;
  readonly localPort?: number;
  secure = false;
  readonly tlsAvailable: boolean;

  private input: Readable;
  private output: Writable;
  private readonly dataHandlers: ((chunk: Buffer) => void)[] = [];
  private readonly closeHandlers: ((reason: CloseReason) => void)[] = [];
  private readonly endHandlers: (() => void)[] = [];
  private closed = false;
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private onIdle: (() => void) | undefined;
  private readonly maxOutput: number;
  private readonly tlsSettings: TlsSettings;
  /** Input paused by the protocol (pause()) and by output backpressure; reading goes on only when neither. */
  private pausedByProtocol = false;
  private pausedByOutput = false;
  private writableWaiters: (() => void)[] = [];
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly onInput = (chunk: Buffer | string) => {
    this.touch();
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    const inf = this.inflater;
    if (inf) {
      if (inf.writableEnded || inf.destroyed) return; // the client ended its compressed stream: nothing follows
      if (!inf.write(buf) && !this.inflateBusy) {
        // The inflater holds enough compressed input: read no more until it has worked through it
        // (it stops working while its output is not taken, i.e. while the protocol is paused).
        this.inflateBusy = true;
        inf.once('drain', () => { this.inflateBusy = false; this.applyPause(); });
        this.applyPause();
      }
      return;
    }
    this.deliver(buf);
  };
  private deliver(buf: Buffer): void {
    for (const h of this.dataHandlers) h(buf);
  }
  /** DEFLATE layers (COMPRESS), once started. */
  private deflater: DeflateRaw | undefined;
  private inflater: InflateRaw | undefined;
  private inflateBusy = false;
  private flushQueued = false;
  // The client may half-close after pipelining commands (`printf ... | imapd`, `nc -q`), or close without
  // LOGOUT/QUIT. Either way no more input comes: the protocol's onEnd handlers are told, answer what was
  // already buffered (a login may still wait for the auth module) and then end() — at once, so a process
  // does not linger holding its folder. Without a handler, the connection stays open until the server
  // has been silent for EOF_GRACE_MS, then flushes and closes. A client that closed completely makes
  // writes fail, which closes at once.
  private inputEnded = false;
  private readonly compressionAllowed: boolean;
  private eofTimer: NodeJS.Timeout | undefined;
  private readonly onInputEnd = () => {
    const inf = this.inflater;
    if (inf && !inf.writableEnded && !inf.destroyed && !this.closed) {
      // Everything the client sent must be inflated and handed on before the protocol hears of the end.
      // (The client need not finish its deflate stream: closing is enough, as for an uncompressed one.)
      inf.flush(zc.Z_SYNC_FLUSH, () => this.afterInflated(() => this.inputFinished()));
      return;
    }
    this.inputFinished();
  };
  /** Run `f` once the inflater's output has all been delivered (at once when none waits). */
  private afterInflated(f: () => void): void {
    const inf = this.inflater;
    if (!inf || inf.readableLength === 0) return f();
    const check = () => {
      if (inf.readableLength > 0) return;
      inf.removeListener('data', check);
      queueMicrotask(f);
    };
    inf.on('data', check);
  }
  private readonly inputFinished = () => {
    if (this.inputEnded || this.closed) return;
    this.inputEnded = true;
    // The idle timeout stays: a client that half-closed and stopped reading (in the middle of a big FETCH
    // or RETR, say) makes no progress either way, and nothing else would ever end the session — the
    // protocol waits in writable() for output that never leaves. Output the client reads counts as
    // activity (see onWritten), so answers to a half-closed client that reads them are not cut short.
    if (this.endHandlers.length === 0) {
      this.armEof();
      return;
    }
    for (const h of this.endHandlers.splice(0)) {
      try { h(); } catch { /* one handler must not stop the others */ }
    }
  };
  private readonly onInputClose = () => (this.sameStream() ? this.close('eof') : this.onInputEnd());
  private readonly onOutputClose = () => this.close('eof');
  private readonly onError = () => this.close('error');

  constructor(o: StreamConnectionOptions) {
    this.input = o.input;
    this.compressionAllowed = o.compression !== false;
    this.output = o.output;
    this.remoteAddress = o.remoteAddress;
    this.remotePort = o.remotePort;
    this.localAddress = o.localAddress;
    this.localPort = o.localPort;
    this.maxOutput = o.maxOutput > 0 ? o.maxOutput : Infinity;
    this.tlsSettings = o.tls;
    this.tlsAvailable = Boolean(o.tls.cert && o.tls.key);
    this.attach();
  }

  private attach(): void {
    this.input.on('data', this.onInput);
    this.input.on('end', this.onInputEnd);
    this.input.on('error', this.onError);
    this.input.on('close', this.onInputClose);
    if (!this.sameStream()) {
      this.output.on('error', this.onError);
      this.output.on('close', this.onOutputClose);
    }
  }

  private sameStream(): boolean {
    return (this.input as unknown) === (this.output as unknown);
  }

  private detach(): void {
    for (const s of new Set<Readable | Writable>([this.input, this.output])) {
      s.removeListener('data', this.onInput);
      s.removeListener('end', this.onInputEnd);
      s.removeListener('error', this.onError);
      s.removeListener('close', this.onInputClose);
      s.removeListener('close', this.onOutputClose);
    }
  }

  onData(handler: (chunk: Buffer) => void): void {
    this.dataHandlers.push(handler);
  }

  onClose(handler: (reason: CloseReason) => void): void {
    this.closeHandlers.push(handler);
  }

  onEnd(handler: () => void): void {
    if (this.inputEnded && !this.closed) {
      if (this.eofTimer) clearTimeout(this.eofTimer);
      this.eofTimer = undefined;
      queueMicrotask(handler);
      return;
    }
    this.endHandlers.push(handler);
  }

  private armEof(): void {
    if (this.eofTimer) clearTimeout(this.eofTimer);
    this.eofTimer = setTimeout(() => void this.finish('eof'), EOF_GRACE_MS);
  }

  write(data: string | Buffer): boolean {
    if (this.closed || this.finishing) return false; // after end(): nothing more may follow the goodbye
    if (this.inputEnded && this.eofTimer) this.armEof();
    this.unfinished++;
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (this.deflater) {
      this.deflater.write(buf, this.onWritten);
      this.queueFlush();
    } else {
      this.output.write(buf, this.onWritten);
    }
    return this.checkBacklog();
  }

  /** Drop the client past max_output_buffer, stop reading past the high-water mark; false once dropped. */
  private checkBacklog(): boolean {
    const queued = this.backlog();
    if (queued > this.maxOutput) {
      this.close('overflow');
      return false;
    }
    if (queued > OUTPUT_HIGH_WATER && !this.pausedByOutput) {
      this.pausedByOutput = true;
      this.applyPause();
    }
    return true;
  }

  /** The stream below the protocol: the socket, or the TLS socket once TLS is active. Resident mode
   *  takes it after a login was handed over (takeUnread) to pass the socket on or relay TLS. */
  stream(): Duplex {
    return this.input as unknown as Duplex;
  }

  /** Bytes of output waiting for the client, with the per-write bookkeeping counted (and, once
   *  compressing, what waits in the deflater, before or after compression). */
  backlog(): number {
    const d = this.deflater;
    const inDeflater = d ? d.writableLength + d.readableLength : 0;
    return this.output.writableLength + inDeflater + this.unfinished * WRITE_OVERHEAD;
  }

  /** One Z_SYNC_FLUSH after each burst of writes (what one turn of the event loop wrote): the client
   *  then holds every response whole, and a FETCH streamed in many writes is not flushed per write.
   *  The flush counts as an unfinished write until done, so drain() and end() wait for it. */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.unfinished++;
    setImmediate(() => {
      this.flushQueued = false;
      const d = this.deflater;
      if (!d || d.destroyed || d.writableEnded || this.closed) return this.onWritten();
      d.flush(zc.Z_SYNC_FLUSH, this.onWritten);
    });
  }

  /** Whether COMPRESS is active. */
  get compressed(): boolean {
    return this.deflater !== undefined;
  }

  get compressionAvailable(): boolean {
    return this.compressionAllowed;
  }

  /** Start DEFLATE (RFC 1951, raw) both ways, at once: call right after the tagged OK of COMPRESS was
   *  written. `pending` is input that already arrived after the command (a client that did not wait
   *  for the OK): it is compressed, and is inflated first. */
  startCompression(pending?: Buffer): void {
    if (this.deflater) throw new Error('compression is already active');
    if (!this.compressionAllowed) throw new Error('compression is not available on this connection');
    if (this.closed) return;
    const deflater = createDeflateRaw({ level: 6 });
    const inflater = createInflateRaw();
    deflater.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.unfinished++;
      this.output.write(chunk, this.onWritten);
      // The compressor works after write() returned: the cap is checked again as its output queues.
      this.checkBacklog();
    });
    deflater.on('error', this.onError);
    inflater.on('data', (chunk: Buffer) => {
      if (!this.closed) this.deliver(chunk);
    });
    // Bad compressed input (or a dictionary the RFC does not allow) ends the connection.
    inflater.on('error', this.onError);
    // A client that finished its deflate stream can send nothing more.
    inflater.on('end', () => this.inputFinished());
    this.deflater = deflater;
    this.inflater = inflater;
    this.applyPause();
    if (pending && pending.length > 0) this.onInput(pending);
  }

  /** Resolves at once while output flows, else once the client has read enough of it (or on close).
   *  Protocols await this before taking the next command, so a client that pipelines commands without
   *  reading the answers makes us stop, not queue answers. */
  writable(): Promise<void> {
    if (this.closed || !this.pausedByOutput) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** Writes handed to the output whose callback has not run yet. */
  private unfinished = 0;
  private drainWaiters: (() => void)[] = [];
  private readonly onWritten = () => {
    if (this.unfinished > 0) this.unfinished--;
    if (this.pausedByOutput && this.backlog() <= OUTPUT_LOW_WATER) {
      this.pausedByOutput = false;
      // The client read its answers: it is not idle, even if it has nothing more to send yet.
      this.touch();
      this.applyPause();
      for (const w of this.writableWaiters.splice(0)) w();
    }
    if (this.unfinished > 0) return;
    for (const w of this.drainWaiters.splice(0)) w();
  };

  private applyPause(): void {
    if (this.closed) return;
    const stop = this.pausedByProtocol || this.pausedByOutput;
    if (this.inflater) {
      if (stop) this.inflater.pause();
      else this.inflater.resume();
    }
    if (stop || this.inflateBusy) this.input.pause();
    else this.input.resume();
  }

  /** Resolves once everything written so far has left (the output is done with those buffers), or on
   *  close. Tracked by write callbacks rather than the 'drain' event, which a writable emits only after a
   *  write() returned false: a TLS socket holding less than its high-water mark would never send it. */
  drain(): Promise<void> {
    if (this.closed || this.unfinished === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        const i = this.closeHandlers.indexOf(done);
        if (i >= 0) this.closeHandlers.splice(i, 1);
        const j = this.drainWaiters.indexOf(done);
        if (j >= 0) this.drainWaiters.splice(j, 1);
        resolve();
      };
      this.drainWaiters.push(done);
      this.closeHandlers.push(done);
    });
  }

  async startTls(): Promise<void> {
    if (this.secure) throw new Error('TLS is already active');
    // RFC 4978 §3: TLS goes below compression, so it must come first.
    if (this.deflater) throw new Error('compression is active: TLS must be negotiated before COMPRESS');
    if (!this.tlsAvailable) throw new Error('no TLS certificate configured (tls_cert, tls_key)');
    const context = await makeSecureContext(this.tlsSettings);
    await this.drain(); // the tagged OK must leave in plaintext before the handshake starts
    if (this.closed) throw new Error('connection closed');
    const tls = await import('node:tls');
    this.detach();
    this.input.pause();
    // Any plaintext that arrived after STARTTLS was already delivered or is dropped here: the TLS layer
    // reads from the raw stream from now on (RFC 3207 §4 / RFC 2595 §3.1 command injection).
    const raw: Duplex = this.sameStream() ? (this.input as Socket) : Duplex.from({ readable: this.input, writable: this.output });
    const secure: TLSSocket = new tls.TLSSocket(raw as Socket, { isServer: true, secureContext: context });
    // The TLS socket takes allowHalfOpen from the raw one (true: a client that half-closes after its
    // commands still gets the answers). So a client that goes before the handshake is done (a port
    // probe, a health check, a client that gave up) only makes the TLS socket emit 'end', never
    // 'close': that end must fail the handshake too, or the process waits for the idle timeout.
    await new Promise<void>((resolve, reject) => {
      // (Unless we are the ones ending it: the idle timeout of a client that never sent its hello.)
      const closed = () => fail(this.finishReason
        ? new Error(`connection ${this.finishReason === 'timeout' ? 'timed out' : 'closed'} during the TLS handshake`)
        : new HandshakeEnded());
      const off = () => {
        secure.removeListener('secure', ok);
        secure.removeListener('error', fail);
        secure.removeListener('close', closed);
        secure.removeListener('end', closed);
      };
      // (An error after the failure must not go unhandled before close() below puts its own handler.)
      const fail = (e: Error) => { off(); secure.on('error', () => {}); reject(e); };
      const ok = () => { off(); resolve(); };
      secure.once('secure', ok);
      secure.once('error', fail);
      secure.once('close', closed);
      secure.once('end', closed);
    }).catch((e: Error) => {
      this.input = secure;
      this.output = secure;
      this.close('error');
      throw e;
    });
    this.input = secure;
    this.output = secure;
    this.secure = true;
    this.attach();
    this.applyPause();
  }

  setIdleTimeout(seconds: number, onTimeout: () => void): void {
    this.idleMs = seconds > 0 ? seconds * 1000 : 0;
    this.onIdle = onTimeout;
    this.touch();
  }

  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.idleMs > 0 && !this.closed) {
      this.idleTimer = setTimeout(() => {
        try { this.onIdle?.(); } catch { /* the close below still happens */ }
        void this.finish('timeout');
      }, this.idleMs);
    }
  }

  pause(): void {
    this.pausedByProtocol = true;
    this.applyPause();
  }

  resume(): void {
    this.pausedByProtocol = false;
    this.applyPause();
  }

  /** An absolute limit on the connection's life, whatever the client sends (pre-login lifetime).
   *  0 removes it. When it passes, onExpire runs (a last word), then the connection is flushed and closed. */
  setDeadline(seconds: number, onExpire: () => void): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (seconds > 0 && !this.closed) {
      this.deadlineTimer = setTimeout(() => {
        this.deadlineTimer = undefined;
        try { onExpire(); } catch { /* the close below still happens */ }
        void this.finish('timeout');
      }, seconds * 1000);
    }
  }

  end(): Promise<void> {
    return this.finish('closed');
  }

  /** Stop for good without closing (the stream is handed to another process): timers off, listeners
   *  off, and the bytes the stream had already read but not delivered are returned. */
  takeUnread(): Buffer {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.eofTimer) clearTimeout(this.eofTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.idleMs = 0;
    this.detach();
    this.input.pause();
    const parts: Buffer[] = [];
    for (let c = this.input.read() as Buffer | string | null; c !== null; c = this.input.read() as Buffer | string | null) {
      parts.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
    }
    // A socket would go on reading into its buffer (read() above, or a scheduled read-ahead, restarts
    // it): stop the kernel reads and tell the stream a read is in progress so none is started again.
    // Bytes left in the kernel stay there for the process the descriptor goes to.
    const handle = (this.input as unknown as { _handle?: { readStop?(): number; reading?: boolean } })._handle;
    try { handle?.readStop?.(); if (handle) handle.reading = false; } catch { /* not a socket */ }
    const state = (this.input as unknown as { _readableState?: { reading: boolean } })._readableState;
    if (state) state.reading = true;
    // From now on this object must not touch the stream: a later end() or close is a no-op.
    this.closed = true;
    this.closeHandlers.length = 0;
    this.endHandlers.length = 0;
    this.dataHandlers.length = 0;
    return Buffer.concat(parts);
  }

  /** Send what is pending, then close with `reason`. */
  private finishing: Promise<void> | undefined;

  /** Why finish() was called first (the connection is being closed from our side). */
  private finishReason: CloseReason | undefined;

  private finish(reason: CloseReason): Promise<void> {
    this.finishReason ??= reason;
    this.finishing ??= this.flushThenClose(reason);
    return this.finishing;
  }

  private async flushThenClose(reason: CloseReason): Promise<void> {
    if (this.closed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleMs = 0;
    const out = this.output;
    const deadline = Date.now() + 5000; // a client that does not read gets no grace beyond this
    const d = this.deflater;
    if (d && !d.destroyed && !d.writableEnded && !out.destroyed) await new Promise<void>((resolve) => {
      // Finish the deflate stream: its last bytes are written to the output before it ends.
      const t = setTimeout(resolve, 5000);
      t.unref?.();
      d.once('end', () => { clearTimeout(t); resolve(); });
      d.once('error', () => { clearTimeout(t); resolve(); });
      d.end();
    });
    if (!out.destroyed && !out.writableFinished) await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      t.unref?.();
      out.end(() => { clearTimeout(t); resolve(); });
    });
    this.close(reason);
  }

  private close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.eofTimer) clearTimeout(this.eofTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    for (const w of this.writableWaiters.splice(0)) w();
    this.detach();
    // Errors after close (EPIPE on a late write) must not become uncaught exceptions.
    for (const s of new Set<Readable | Writable>([this.input, this.output])) {
      s.on('error', () => {});
      s.destroy();
    }
    for (const z of [this.deflater, this.inflater]) {
      if (!z) continue;
      z.removeAllListeners('data');
      z.on('error', () => {});
      z.destroy();
    }
    for (const h of this.closeHandlers.splice(0)) {
      try { h(reason); } catch { /* one handler must not stop the others */ }
    }
  }
}
