// Bulletins (dmail-reference §3.3, Decisions 7): bulletin_path/nnn.txt for everyone and
// bulletin_path/<domain>/nnn.txt for one virtual domain, optional nnn.hdr header lines beside them.
// Each unseen bulletin is appended to INBOX at login; the last id seen per source is kept in
// <indexDir>/bulletins.seen (JSON), shared by IMAP and POP3. Delivery happens before the record is
// updated, so a crash can at worst repeat a bulletin, never lose one.

import { constants } from 'node:fs';
import { mkdir, readdir, readFile, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hostname } from 'node:os';
import type { Settings } from '../config/settings.js';
import type { AuthUser } from '../auth/types.js';
import type { Logger } from '../log/types.js';
import type { MailStore } from '../store/types.js';
import { importNative } from '../auth/passwd.js';
import { replaceFile } from '../store/safe-file.js';

export interface Bulletin { id: number; txt: string; hdr?: string }

const MAIN = '*';
const ID_FILE = /^(\d{1,9})\.txt$/;

/** Bulletin ids in `dir`, ascending. A missing directory has none. */
export async function listBulletins(dir: string): Promise<Bulletin[]> {
  let names: string[];
  try { names = await readdir(dir); } catch { return []; }
  const set = new Set(names);
  const out: Bulletin[] = [];
  for (const n of names) {
    const m = ID_FILE.exec(n);
    if (!m) continue;
    const hdr = n.replace(/\.txt$/, '.hdr');
    out.push({ id: Number(m[1]), txt: join(dir, n), ...(set.has(hdr) ? { hdr: join(dir, hdr) } : {}) });
  }
  return out.sort((a, b) => a.id - b.id);
}

/** The bulletin directories that apply to a user: the main one and their domain's. */
export function bulletinSources(settings: Settings, user: AuthUser): { key: string; dir: string }[] {
  const base = settings.bulletin_path;
  if (!base) return [];
  const out = [{ key: MAIN, dir: base }];
  if (user.domain && !/[/\\]|^\.\.?$/.test(user.domain)) out.push({ key: user.domain, dir: join(base, user.domain) });
  return out;
}

function headerName(line: string): string {
  return line.slice(0, line.indexOf(':')).trim().toLowerCase();
}

/** Build the message: default headers, overridden by same-named lines of the .hdr file. */
export function bulletinMessage(settings: Settings, user: AuthUser, b: { id: number; text: Buffer; hdr?: string }, host: string, now = new Date()): Buffer {
  const fromText = settings.bulletin_from ?? 'Email System Administrator';
  const domain = settings.host_domain[0] ?? host;
  const from = fromText.includes('@') ? fromText : `"${fromText.replace(/["\\]/g, '')}" <postmaster@${domain}>`;
  const to = user.domain ? `${user.user}@${user.domain}` : user.login;
  const ascii = !b.text.some((c) => c > 0x7e || (c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09));
  const defaults: string[] = [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: Bulletin ${b.id}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <bulletin.${b.id}.${now.getTime()}.${process.pid}@${host}>`,
    'MIME-Version: 1.0',
    `Content-Type: text/plain; charset=${ascii ? 'us-ascii' : 'utf-8'}`,
    `Content-Transfer-Encoding: ${ascii ? '7bit' : '8bit'}`,
  ];
  const custom = (b.hdr ?? '').split(/\r?\n/).filter((l) => /^[!-9;-~]+:/.test(l));
  const overridden = new Set(custom.map(headerName));
  const headers = [...defaults.filter((l) => !overridden.has(headerName(l))), ...custom];
  const body = b.text.toString('latin1').replace(/\r\n/g, '\n');
  return Buffer.from(`${headers.join('\n')}\n\n${body}${body.endsWith('\n') ? '' : '\n'}`, 'latin1');
}

type Seen = Record<string, number>;

async function readSeen(file: string): Promise<Seen | undefined> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (v && typeof v === 'object') return v as Seen;
    return {};
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : {};
  }
}

async function writeSeen(file: string, seen: Seen): Promise<void> {
  await replaceFile(dirname(file), basename(file), JSON.stringify(seen) + '\n', { mode: 0o600 });
}

interface FlockModule { flock(fd: number, op: string, cb: (err?: Error) => void): void }
const LOCK_WAIT_MS = 5000;

/** Serialise deliveries of one user's bulletins (IMAP and POP3 logging in at the same instant). */
async function withUserLock<T>(dir: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const fh = await open(join(dir, 'bulletins.lock'), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    let fsExt: FlockModule | undefined;
    try {
      fsExt = await importNative<FlockModule>('fs-ext');
    } catch { /* without fs-ext: unlocked, at worst a duplicate bulletin */ }
    if (fsExt) {
      // Non-blocking attempts: a stopped or hung session holding the lock must not hang this login.
      const deadline = Date.now() + waitMs;
      for (;;) {
        const got = await new Promise<boolean>((res, rej) => fsExt!.flock(fh.fd, 'exnb', (e) => {
          if (!e) res(true);
          else if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EWOULDBLOCK') res(false);
          else rej(e);
        }));
        if (got) break;
        if (Date.now() > deadline) throw new Error('bulletin record is locked by another session; delivery postponed');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return await fn();
  } finally {
    await fh.close(); // closing releases the flock
  }
}

/** Deliver unseen bulletins into INBOX. Returns how many were delivered. Never throws for a bad bulletin. */
export async function deliverBulletins(settings: Settings, user: AuthUser, store: MailStore, indexDir: string, log: Logger, lockWaitMs = LOCK_WAIT_MS): Promise<number> {
  const sources = bulletinSources(settings, user);
  if (sources.length === 0) return 0;
  const lists = await Promise.all(sources.map(async (s) => ({ ...s, items: await listBulletins(s.dir) })));
  await mkdir(indexDir, { recursive: true, mode: 0o700 });
  const seenFile = join(indexDir, 'bulletins.seen');
  return withUserLock(indexDir, lockWaitMs, async () => {
    const prior = await readSeen(seenFile);
    const seen: Seen = { ...(prior ?? {}) };
    let delivered = 0;
    let changed = false;
    for (const src of lists) {
      const highest = src.items.at(-1)?.id ?? 0;
      const last = seen[src.key] ?? 0;
      if (src.items.length === 0) {
        // DPOP resets everyone to 0 when the directory is emptied, so numbering can restart at 1.
        if (last !== 0) { seen[src.key] = 0; changed = true; }
        continue;
      }
      if (prior === undefined && settings.hide_old_bulls) {
        seen[src.key] = highest; changed = true;
        continue;
      }
      for (const b of src.items) {
        if (b.id <= last) continue;
        try {
          const text = await readFile(b.txt);
          const hdr = b.hdr ? await readFile(b.hdr, 'utf8').catch(() => undefined) : undefined;
          await store.append('INBOX', bulletinMessage(settings, user, { id: b.id, text, ...(hdr ? { hdr } : {}) }, hostname()));
          delivered++;
          log.info({ bulletin: b.id, source: src.key }, 'bulletin delivered');
        } catch (e) {
          log.error({ bulletin: b.id, err: (e as Error).message }, 'bulletin not delivered');
          if (b.id > last) break; // try again next login rather than skipping it
        }
        seen[src.key] = b.id; changed = true;
      }
    }
    if (changed || prior === undefined) await writeSeen(seenFile, seen);
    return delivered;
  });
}
