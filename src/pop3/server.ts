// dpop's protocol entry: greets, feeds client input to the session as lines, and closes the connection
// when the session ends. src/dpop.ts builds the Connection and ServerContext and calls servePop3.

import type { ServerContext } from '../session/context.js';
import type { Connection } from '../transport/types.js';
import { LineQueue } from './line-queue.js';
import { apopTimestamp, greeting } from './responses.js';
import { Pop3Session } from './session.js';
import type { ServeOptions } from '../session/handoff.js';

export async function servePop3(conn: Connection, ctx: ServerContext, opts: ServeOptions = {}): Promise<void> {
  const maxLine = ctx.settings.max_line_length > 0 ? ctx.settings.max_line_length : 65536;
  const input = new LineQueue(maxLine, conn);
  // (LineQueue.next() waits in conn.writable(): no next command while the client is not reading.)
  const timestamp = apopTimestamp(ctx.hostname);
  const session = new Pop3Session(conn, ctx, input, timestamp, opts);

  // A login made elsewhere: what the client pipelined after it comes before anything read from now on.
  if (opts.resume) input.push(opts.resume.input);
  conn.onData((chunk) => input.push(chunk));
  // End of input (the client closed, or half-closed after pipelining): the commands it sent are still
  // answered, then the session ends at once instead of holding the maildrop for a grace period.
  conn.onEnd(() => input.end());
  conn.onClose((reason) => {
    if (reason !== 'closed') ctx.log.info({ reason, state: session.state }, 'client connection ended');
    // After a broken connection the client cannot have seen our answers, so commands it had pipelined
    // (a DELE or QUIT after a RETR it never received) are not carried out. A clean end of input (EOF)
    // still runs what the client sent before it: it asked for that explicitly.
    if (reason === 'error' || reason === 'overflow' || reason === 'timeout') input.clear();
    input.end();
  });
  // Not logged in yet: an absolute limit as well, however busy the client keeps us (trickled bytes).
  conn.setDeadline(ctx.settings.login_lifetime, () => {
    ctx.log.info({ seconds: ctx.settings.login_lifetime }, 'not logged in within login_lifetime');
    conn.write('-ERR Login time limit exceeded\r\n');
  });
  if (!opts.resume) conn.write(greeting(timestamp));
  await session.run();
  if (session.handedOff) return; // the connection is someone else's now
  await conn.end().catch(() => undefined);
}
