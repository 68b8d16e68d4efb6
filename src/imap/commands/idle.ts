// RFC 2177 IDLE: poll the store every two seconds and push updates (EXPUNGE allowed) until DONE.
import type { Command, ImapSession } from '../session.js';
import { bad, ok, type Result } from '../result.js';

const POLL_MS = 2000;

export async function idle(s: ImapSession, c: Command): Promise<Result | null> {
  c.args.end();
  s.continuation('idling');
  let finished = false;
  const done = s.input.readLine(s.ctx.settings.max_line_length).finally(() => {
    finished = true;
  });
  while (!finished && !s.dead) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, POLL_MS)))]);
    clearTimeout(timer);
    if (!finished && s.selected) {
      try {
        await s.sendUpdates({ refresh: true, allowExpunge: true });
        s.flush();
      } catch (e) {
        s.log.warn({ err: String(e) }, 'IDLE refresh failed');
      }
    }
  }
  const got = await done;
  if (!got) {
    s.dead = true;
    return null;
  }
  if (got.tooLong || got.line.toString('latin1').toUpperCase() !== 'DONE') return bad('Expected DONE');
  return ok('IDLE terminated');
}
