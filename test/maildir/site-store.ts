// Lets protocol tests run unchanged on either store: with DMAIL_TEST_STORE=maildir a test site keeps
// its users' mail in maildirs (use_maildir, maildir_home = <site>/maildir), otherwise in mbox drop
// files. Tests that put mail in place call these instead of writing the drop file themselves.
import { mkdirSync, renameSync, rmSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mbox, type Site } from '../helpers/site.js';

export type StoreKind = 'mbox' | 'maildir';
export const TEST_STORE: StoreKind = process.env.DMAIL_TEST_STORE === 'maildir' ? 'maildir' : 'mbox';

type Extra = Record<string, string | number | boolean | string[]>;

/** The settings a site needs for `kind` (merge into what you pass to site.setConfig / makeSite). */
export function storeSettings(site: Site, kind: StoreKind = TEST_STORE): Extra {
  return kind === 'maildir' ? { use_maildir: true, maildir_home: join(site.dir, 'maildir'), maildir_suffix: true } : {};
}

/** Where a user's maildir is on such a site (maildir_suffix true, no hashing). */
export function userMaildir(site: Site, user: string): string {
  return join(site.dir, 'maildir', `${user}.mdir`);
}

export interface TestMessage {
  text: string;
  date?: Date;
}

let seq = 0;

function deliverToMaildir(dir: string, m: TestMessage): void {
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(dir, sub), { recursive: true });
  seq += 1;
  const name = `${Math.floor(Date.now() / 1000)}.${process.pid}_${seq}.${hostname()}`;
  const tmp = join(dir, 'tmp', name);
  writeFileSync(tmp, m.text);
  const date = m.date ?? new Date('2024-01-02T03:04:05Z');
  utimesSync(tmp, date, date);
  renameSync(tmp, join(dir, 'new', name));
}

/** Replace a user's INBOX with exactly these messages (LF endings, as an MDA writes them). */
export function setInbox(site: Site, user: string, messages: TestMessage[], kind: StoreKind = TEST_STORE): void {
  if (kind === 'mbox') {
    writeFileSync(site.drop(user), mbox(messages));
    return;
  }
  const dir = userMaildir(site, user);
  rmSync(dir, { recursive: true, force: true });
  for (const m of messages) deliverToMaildir(dir, m);
  mkdirSync(join(dir, 'cur'), { recursive: true });
}

/** Deliver one more message to a user's INBOX, as the MDA would while sessions are open. */
export function deliver(site: Site, user: string, message: TestMessage, kind: StoreKind = TEST_STORE): void {
  if (kind === 'mbox') appendFileSync(site.drop(user), mbox([message]));
  else deliverToMaildir(userMaildir(site, user), message);
}
