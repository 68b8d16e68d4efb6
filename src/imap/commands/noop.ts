// NOOP and CHECK: nothing to do but report changes (the dispatcher re-reads the mailbox afterwards).
import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';

export async function noop(_s: ImapSession, c: Command): Promise<Result> {
  c.args.end();
  return ok(`${c.name} completed`);
}
