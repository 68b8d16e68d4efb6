// RFC 2087 QUOTA: one root "" holding STORAGE in kbytes (usage of INBOX plus all folders, Decisions 8).
import type { Command, ImapSession } from '../session.js';
import { mailboxOut } from '../rev2.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg, quotaKb } from './helpers.js';

async function quotaLine(s: ImapSession, limit: number): Promise<string> {
  const used = Math.ceil((await s.store.usage()) / 1024);
  return `QUOTA "" (STORAGE ${used} ${limit})`;
}

export async function getquotaroot(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  const name = mailboxArg(c.args);
  c.args.end();
  await s.store.status(name); // NONEXISTENT for a mailbox that does not exist
  const q = quotaKb(s);
  if (q === undefined) {
    s.untagged(`QUOTAROOT ${mailboxOut(s, name)}`);
  } else {
    s.untagged(`QUOTAROOT ${mailboxOut(s, name)} ""`);
    s.untagged(await quotaLine(s, q));
  }
  return ok('GETQUOTAROOT completed');
}

export async function getquota(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  const root = c.args.astring();
  c.args.end();
  const q = quotaKb(s);
  if (root !== '' || q === undefined) return no('[NONEXISTENT] No such quota root');
  s.untagged(await quotaLine(s, q));
  return ok('GETQUOTA completed');
}

export async function setquota(_s: ImapSession, _c: Command): Promise<Result> {
  return no('[NOPERM] Quotas are set by the administrator (user_quota)');
}
