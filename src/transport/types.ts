// A client connection as protocol code sees it: bytes in, bytes out, and a few controls. Built by
// transport/ from inetd's fd 0/1 (socket or pipes), from a LISTEN_FDS accept, or in tests.

export interface Connection {
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly localAddress: string;
  readonly localPort?: number;
  /** True once TLS is active (implicit or after STARTTLS/STLS). */
  readonly secure: boolean;
  /** Whether a TLS certificate is configured, so STARTTLS/STLS can be offered. */
  readonly tlsAvailable: boolean;
  /** Called with each chunk of client input (after TLS decryption). */
  onData(handler: (chunk: Buffer) => void): void;
  /** Called once when the client goes away or the connection is closed. */
  onClose(handler: (reason: 'eof' | 'error' | 'timeout' | 'overflow' | 'closed') => void): void;
  /** Called once when the client has sent its last byte (it half-closed or closed; it may still read
   *  our answers). Everything it sent was delivered to onData before. The protocol then answers what it
   *  has buffered and calls end() without waiting: nothing more can come. A connection whose protocol
   *  registers no handler closes after a few seconds of silence instead. */
  onEnd(handler: () => void): void;
  /** Queue output. A string is sent as latin1 (one character per byte: protocol text is bytes).
   *  Returns false if the pending output exceeded max_output_buffer: the connection is
   *  then being dropped (a client that stops reading must not make us buffer without bound). */
  write(data: string | Buffer): boolean;
  /** Resolves at once unless output is backed up (a client not reading its answers), else once it has
   *  gone down again or the connection closed. While output is backed up, input is not read either.
   *  Protocols await it before each command. */
  writable(): Promise<void>;
  /** Resolves when pending output has drained to the socket (use when streaming large bodies). */
  drain(): Promise<void>;
  /** Upgrade to TLS in place (STARTTLS / STLS). Call after the tagged OK has been written. Refused
   *  (rejects) once compression is active: TLS must lie below it (RFC 4978 §3). */
  startTls(): Promise<void>;
  /** True once DEFLATE compression is active (IMAP COMPRESS). */
  readonly compressed: boolean;
  /** False when compression may not start on this connection: a resident-mode pre-login process hands the
   *  bare socket to another process after login, where a deflate stream begun here could not go on. The
   *  protocol then offers COMPRESS only after login (undefined: available). */
  readonly compressionAvailable?: boolean;
  /** Compress output and inflate input from now on (raw DEFLATE, RFC 1951; IMAP COMPRESS=DEFLATE,
   *  RFC 4978). Call synchronously right after writing the tagged OK, which still goes out plain.
   *  `pending`: input that already arrived after the command (it is compressed, and inflated first).
   *  The output cap, backpressure and input pausing keep working on the compressed connection; the
   *  inflated input is delivered only as fast as the protocol takes it. Throws if already active. */
  startCompression(pending?: Buffer): void;
  /** Idle timeout in seconds; each input chunk restarts it. onTimeout runs before the close. */
  setIdleTimeout(seconds: number, onTimeout: () => void): void;
  /** Absolute lifetime in seconds (0: none), whatever the client sends; onExpire runs before the close. */
  setDeadline(seconds: number, onExpire: () => void): void;
  /** Pause / resume reading input (used while a long command is being executed). */
  pause(): void;
  resume(): void;
  /** Flush pending output, then close. */
  end(): Promise<void>;
  /** Stop reading for good and return the bytes already received but not yet delivered to onData (a
   *  connection handed over to another process after login). Optional: absent where nothing can be
   *  buffered below the protocol. */
  takeUnread?(): Buffer;
}
