import type { Command, ImapSession } from '../session.js';
import { bad, no, type Result } from '../result.js';

/** Returns null when it has answered itself (the OK must go out before the handshake starts). */
export async function starttls(s: ImapSession, c: Command): Promise<Result | null> {
  c.args.end();
  if (s.conn.secure) return bad('TLS is already active');
  if (!s.conn.tlsAvailable) return no('STARTTLS not available');
  // RFC 4978 §3: TLS lies below compression, so it cannot start once COMPRESS is active.
  if (s.conn.compressed) return bad('STARTTLS is not allowed after COMPRESS');
  // Anything the client pipelined after STARTTLS is plaintext injection (CVE-2011-0411 class): drop it.
  if (s.input.buffered > 0) return bad('STARTTLS must be the last command in the pipeline');
  s.tagged(c.tag, 'OK', 'Begin TLS negotiation now'); // tagged() flushes
  try {
    await s.conn.startTls();
  } catch (e) {
    s.log.warn({ err: String(e) }, 'STARTTLS handshake failed');
    s.dead = true;
    return null;
  }
  s.input.clear();
  return null;
}
