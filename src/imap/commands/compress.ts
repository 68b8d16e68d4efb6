// RFC 4978 COMPRESS=DEFLATE. The tagged OK goes out plain; compression starts right after its CRLF, both
// ways. Allowed in every state, after STARTTLS (TLS then lies below compression); STARTTLS after it is
// refused by the connection. The transport (src/transport/stream-connection.ts) keeps the output cap,
// backpressure and input limits working on the compressed streams.
import type { Command, ImapSession } from '../session.js';
import { bad, no, type Result } from '../result.js';

/** Returns null when it has answered itself (the OK must leave uncompressed, then compression starts). */
export async function compress(s: ImapSession, c: Command): Promise<Result | null> {
  c.args.sp();
  const mechanism = c.args.atom().toUpperCase();
  c.args.end();
  // RFC 4978 §3: NO [COMPRESSIONACTIVE] when the mechanism is already active (as Dovecot answers a
  // second COMPRESS); an unknown mechanism is an invalid argument.
  if (s.conn.compressed) return no('[COMPRESSIONACTIVE] DEFLATE compression is already active');
  if (mechanism !== 'DEFLATE') return bad(`Unknown compression mechanism ${mechanism.slice(0, 40)}`);
  if (s.conn.compressionAvailable === false) return no('[CANNOT] COMPRESS is available after login');
  s.tagged(c.tag, 'OK', 'DEFLATE active'); // tagged() flushes: the OK is written plain
  if (s.dead) return null;
  // A client that did not wait for the OK already sent compressed bytes: they are inflated first.
  s.conn.startCompression(s.input.takeAll());
  s.log.debug({}, 'COMPRESS DEFLATE active');
  return null;
}
