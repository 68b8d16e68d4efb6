// The user database of `dmailctl authd`, the external authentication module shipped with the product.
// File format (text, UTF-8, one user per line, `#` comments):
//
//   # dmail authd v1
//   <name>\t<crypt hash>\t<uid>\t<info: label="value" label2="value2">
//
// Names are case-insensitive (stored lower-case, as NWAuth treats them). The hash is crypt(3) form;
// `set` writes sha512-crypt ($6$); any scheme the system's crypt knows verifies. uid 0 = none. Info
// fields are returned to the server verbatim; `drop="..."` is the drop-file path the module replies
// with (absolute, or relative to drop_path); without it the module replies with the name itself and
// the server computes the path from drop_path and hash_spool.
// Writes take an exclusive flock on <db>.lock, write a randomly named temporary file (store/safe-file), fsync, rename: a crash or kill -9
// leaves either the old or the new file, and concurrent `set`s never lose each other's changes.

import { open, readFile, stat } from 'node:fs/promises';
import { dirname, basename } from 'node:path';
import { parseInfo } from '../external.js';
import { replaceFile } from '../../store/safe-file.js';
import { importNative } from '../passwd.js';

export interface DbUser {
  name: string;
  hash: string;
  uid: number;
  info: Record<string, string>;
}

export const HEADER = '# dmail authd v1';

export function parseDb(text: string): Map<string, DbUser> {
  const users = new Map<string, DbUser>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, hash = '', uid = '0', info = ''] = line.replace(/\r$/, '').split('\t');
    if (!name) continue;
    users.set(name.toLowerCase(), { name: name.toLowerCase(), hash, uid: /^\d+$/.test(uid) ? Number(uid) : 0, info: parseInfo(info) });
  }
  return users;
}

export const formatInfo = (info: Record<string, string>) => Object.entries(info).map(([k, v]) => `${k}="${v}"`).join(' ');

export function formatDb(users: Map<string, DbUser>): string {
  const lines = [HEADER];
  for (const u of [...users.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    lines.push([u.name, u.hash, String(u.uid), formatInfo(u.info)].join('\t'));
  }
  return lines.join('\n') + '\n';
}

/** Names that fit the protocol and the file: no whitespace, control characters or quotes. */
export const validName = (n: string) => n.length > 0 && n.length <= 255 && !/[\x00-\x20\x7f"]/.test(n);
/** Info labels and values: DMail forbids quotes; tabs and newlines would break the file. */
export const validLabel = (l: string) => /^[^\s="]{1,64}$/.test(l);
export const validValue = (v: string) => !/["\t\r\n\0]/.test(v) && v.length <= 1024;

interface FlockModule { flock(fd: number, op: string, cb: (err?: Error) => void): void }
async function flockExclusive(fd: number): Promise<void> {
  const fsExt = await importNative<FlockModule>('fs-ext');
  await new Promise<void>((res, rej) => fsExt.flock(fd, 'ex', (e) => (e ? rej(e) : res())));
}

export class UserDb {
  private cache?: { key: string; users: Map<string, DbUser> };

  constructor(readonly file: string) {}

  /** Current users; re-read only when the file changed. A missing file is an empty database. */
  async load(): Promise<Map<string, DbUser>> {
    let key: string;
    try {
      const st = await stat(this.file);
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    if (this.cache?.key === key) return this.cache.users;
    const users = parseDb(await readFile(this.file, 'utf8'));
    this.cache = { key, users };
    return users;
  }

  async get(name: string): Promise<DbUser | undefined> {
    return (await this.load()).get(name.toLowerCase());
  }

  /** Apply `change` to the database under the write lock and replace the file atomically. */
  async update<T>(change: (users: Map<string, DbUser>) => T): Promise<T> {
    const lock = await open(`${this.file}.lock`, 'a', 0o600);
    try {
      await flockExclusive(lock.fd);
      this.cache = undefined;
      const users = new Map(await this.load());
      const result = change(users);
      // Random temporary name, O_EXCL|O_NOFOLLOW, directory checked (ours, not writable by others), fsync, rename.
      await replaceFile(dirname(this.file), basename(this.file), formatDb(users), { mode: 0o600, owners: [process.geteuid?.() ?? 0] });
      this.cache = undefined;
      return result;
    } finally {
      await lock.close();
    }
  }
}
