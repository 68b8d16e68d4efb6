// RFC 2177 IDLE: push updates (EXPUNGE/VANISHED allowed) until DONE. What changed is learnt only from
// the store: mailbox.watch() calls back soon after anyone else's change (deliveries, other sessions,
// POP3) and bounds itself by a poll where the filesystem gives no events; each call re-reads the
// mailbox and sends what the client has not been told.
import type { Command, ImapSession } from '../session.js';
import { bad, ok, type Result } from '../result.js';

/** Like Dovecot's imap_idle_notify_interval: a quiet IDLE still says something now and then, so NAT
 *  boxes and phone radios do not drop a connection that is only waiting for mail. */
const KEEPALIVE_MS = 120_000;

export async function idle(s: ImapSession, c: Command): Promise<Result | null> {
  c.args.end();
  let wake: (() => void) | null = null;
  // Watching starts before the client hears "+ idling", and the first pass re-reads once: a change
  // made between the last command's refresh and the watch's first look is not missed.
  // With NOTIFY (RFC 5465) pushing the selected mailbox, IDLE leaves that to it and lets it speak.
  const sel = s.notifier?.handlesSelected ? null : s.selected;
  let changed = sel !== null;
  const unwatch = sel?.mailbox.watch(() => {
    changed = true;
    wake?.();
  });
  s.continuation('idling');
  s.notifier?.resume();
  let finished = false;
  const done = s.input.readLine(s.ctx.settings.max_line_length).finally(() => {
    finished = true;
  });
  let lastOutput = Date.now();
  try {
    while (!finished && !s.dead) {
      if (!changed) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          done,
          new Promise<void>((r) => {
            wake = r;
            timer = setTimeout(r, KEEPALIVE_MS);
          }),
        ]);
        clearTimeout(timer);
        wake = null;
      }
      if (finished) break;
      if (changed) {
        changed = false;
        try {
          await s.sendUpdates({ refresh: true, allowExpunge: true }); // nothing when none is selected
        } catch (e) {
          s.log.warn({ err: String(e) }, 'IDLE refresh failed');
        }
      }
      if (s.hasPending()) lastOutput = Date.now();
      else if (Date.now() - lastOutput >= KEEPALIVE_MS && !s.notifier?.writing) {
        s.untagged('OK Still here');
        lastOutput = Date.now();
      }
      s.flush();
    }
  } finally {
    unwatch?.();
    await s.notifier?.pause();
  }
  if (s.dead) return null; // e.g. the mailbox was deleted: BYE already sent
  const got = await done;
  if (!got) {
    s.dead = true;
    return null;
  }
  if (got.tooLong || got.line.toString('latin1').toUpperCase() !== 'DONE') return bad('Expected DONE');
  return ok('IDLE terminated');
}
