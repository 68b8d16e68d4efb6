// RFC 2177 IDLE: push updates (EXPUNGE allowed) until DONE. The store is polled every two seconds;
// for INBOX an fs.watch on the drop file (or maildir new/) is a hint that makes a delivery show at
// once. The poll stays the authority: watchers miss renames and do not work on every filesystem.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Command, ImapSession } from '../session.js';
import { bad, ok, type Result } from '../result.js';

const POLL_MS = 2000;
/** Like Dovecot's imap_idle_notify_interval: a quiet IDLE still says something now and then, so NAT
 *  boxes and phone radios do not drop a connection that is only waiting for mail. */
const KEEPALIVE_MS = 120_000;
/** Let a delivery finish writing before re-reading after a watch event. */
const SETTLE_MS = 100;

function watchInbox(s: ImapSession, onChange: () => void): FSWatcher | null {
  const paths = s.user?.paths;
  if (!paths || s.selected?.name !== 'INBOX') return null;
  try {
    const target = paths.kind === 'maildir' ? join(paths.inbox, 'new') : paths.inbox;
    const w = watch(target, { persistent: false }, onChange);
    w.on('error', () => w.close());
    return w;
  } catch {
    return null; // no drop file yet, or no inotify: the poll alone will do
  }
}

export async function idle(s: ImapSession, c: Command): Promise<Result | null> {
  c.args.end();
  s.continuation('idling');
  let finished = false;
  const done = s.input.readLine(s.ctx.settings.max_line_length).finally(() => {
    finished = true;
  });
  let wake: (() => void) | null = null;
  const watcher = watchInbox(s, () => setTimeout(() => wake?.(), SETTLE_MS));
  let lastOutput = Date.now();
  try {
    while (!finished && !s.dead) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        done,
        new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(r, POLL_MS);
        }),
      ]);
      clearTimeout(timer);
      wake = null;
      if (finished) break;
      if (s.selected) {
        try {
          await s.sendUpdates({ refresh: true, allowExpunge: true });
        } catch (e) {
          s.log.warn({ err: String(e) }, 'IDLE refresh failed');
        }
      }
      if (s.hasPending()) lastOutput = Date.now();
      else if (Date.now() - lastOutput >= KEEPALIVE_MS) {
        s.untagged('OK Still here');
        lastOutput = Date.now();
      }
      s.flush();
    }
  } finally {
    watcher?.close();
  }
  const got = await done;
  if (!got) {
    s.dead = true;
    return null;
  }
  if (got.tooLong || got.line.toString('latin1').toUpperCase() !== 'DONE') return bad('Expected DONE');
  return ok('IDLE terminated');
}
