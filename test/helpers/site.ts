// A throw-away DMail site for tests: a dmail.conf, a drop_path spool, a log dir, and users served by an
// external auth module. Everything is real files; the servers are the real built binaries.
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopResidentMasters } from './resident.js';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const BIN = {
  imapd: join(ROOT, 'bin/imapd'),
  dpop: join(ROOT, 'bin/dpop'),
  dmailctl: join(ROOT, 'bin/dmailctl'),
};

export interface TestUser {
  pass: string;
  /** Drop file path returned by the module; default <spool>/<name>. */
  drop?: string;
  uid?: number;
  info?: Record<string, string>;
}

export interface Site {
  dir: string;
  conf: string;
  spool: string;
  logs: string;
  work: string;
  /** Absolute drop-file path of a user. */
  drop(user: string): string;
  addUser(name: string, user: TestUser): void;
  /** Replace dmail.conf's extra settings (appended after the base settings). */
  setConfig(extra: Record<string, string | number | boolean | string[]>): void;
}

/**
 * Remove a test site (stopping its resident-mode masters, if any, and waiting for them). Server processes whose clients were just closed end at once, and may still be
 * letting go of the mailbox (index, change log, purge) — even re-creating an index directory — while the
 * tree is removed: try again until it stays gone (bounded, ~10 s).
 */
export function removeSite(dir: string): void {
  stopResidentMasters(dir); // resident test mode: the site's masters (and their processes) first
  for (let i = 0; ; i++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch (e) {
      if (i >= 100 || (e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

export function makeSite(extra: Record<string, string | number | boolean | string[]> = {}): Site {
  const dir = mkdtempSync(join(tmpdir(), 'dmail-site-'));
  const spool = join(dir, 'spool');
  const logs = join(dir, 'log');
  const work = join(dir, 'work');
  for (const d of [spool, logs, work]) mkdirSync(d, { recursive: true });
  const usersFile = join(dir, 'users.json');
  writeFileSync(usersFile, '{}');
  const conf = join(dir, 'dmail.conf');
  const users: Record<string, TestUser> = {};
  let extras = extra;
  const write = () => {
    const lines = [
      `# test site ${dir}`,
      `drop_path ${spool}`,
      `log_path ${logs}`,
      `work_path ${work}`,
      `log_level debug`,
      `authent_method external`,
      `authent_process ${join(ROOT, 'test/helpers/static-authd.mjs')} ${usersFile}`,
      `imapd_become_user false`,
      // Tests run as root: a session that stays root must be allowed explicitly (issue 13).
      `allow_root_login true`,
      `auth_fail_delay 0`,
    ];
    for (const [k, v] of Object.entries(extras)) {
      for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k} ${one}`);
    }
    // Replaced whole (a new file renamed over it), as an admin's editor or tool would: a resident master
    // re-reads dmail.conf when it changed and must never meet it half written.
    writeFileSync(`${conf}.new`, lines.join('\n') + '\n');
    renameSync(`${conf}.new`, conf);
  };
  write();
  const site: Site = {
    dir, conf, spool, logs, work,
    drop: (u) => users[u]?.drop ?? join(spool, u),
    addUser(name, user) {
      users[name] = { ...user, drop: user.drop ?? join(spool, name) };
      writeFileSync(usersFile, JSON.stringify(users));
    },
    setConfig(e) { extras = e; write(); },
  };
  return site;
}

/** mbox `From ` line date in asctime form with DMail's zero-padded day. */
export function fromLineDate(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** Build an mbox from messages (LF line endings, mboxrd-quoted, as an MDA would write it). */
export function mbox(messages: { from?: string; date?: Date; text: string }[]): string {
  return messages.map((m) => {
    const body = m.text.replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1');
    return `From ${m.from ?? 'sender@example.com'} ${fromLineDate(m.date ?? new Date('2024-01-02T03:04:05Z'))}\n${body}${body.endsWith('\n') ? '' : '\n'}\n`;
  }).join('');
}

export function simpleMessage(i: number, extraHeaders = ''): string {
  return `From: Sender ${i} <sender${i}@example.com>\nTo: bob@example.com\nSubject: Test message ${i}\nDate: Tue, 02 Jan 2024 03:04:05 +0000\nMessage-ID: <msg${i}@example.com>\n${extraHeaders}\nHello, this is message ${i}.\n`;
}

export const readText = (p: string) => (existsSync(p) ? readFileSync(p, 'latin1') : '');
