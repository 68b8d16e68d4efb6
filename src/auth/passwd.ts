// System and passwd-format user records: getpwnam through the `posix` addon (loaded lazily: it is a
// native module and most connections never need it), /etc/shadow, and vdomain_passwd files.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

export interface PasswdEntry {
  name: string;
  /** Field 2: a crypt hash, or `x` when the hash is in /etc/shadow. */
  passwd: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

interface PosixModule {
  getpwnam(name: string): { name: string; passwd: string; uid: number; gid: number; dir: string; shell: string };
  geteuid(): number;
  getegid(): number;
}

// Native addons are CommonJS without type declarations (and posix's package "main" has no extension,
// which ESM import() cannot resolve). require() through createRequire loads them from the bundle's
// node_modules in dist/ and from the sources under vitest alike, only when first needed.
export async function importNative<T>(name: string): Promise<T> {
  const m = createRequire(import.meta.url)(name) as { default?: T };
  return (m.default ?? m) as T;
}

let posixModule: Promise<PosixModule> | undefined;
export function loadPosix(): Promise<PosixModule> {
  posixModule ??= importNative<PosixModule>('posix');
  return posixModule;
}

/** getpwnam(3); undefined when there is no such user. */
export async function getpwnam(name: string): Promise<PasswdEntry | undefined> {
  const posix = await loadPosix();
  try {
    const p = posix.getpwnam(name);
    return { name: p.name, passwd: p.passwd, uid: p.uid, gid: p.gid, home: p.dir, shell: p.shell };
  } catch {
    return undefined; // posix throws for an unknown user
  }
}

/** One passwd-format line, or undefined for comments and malformed lines. */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  if (line.startsWith('#') || line.trim() === '') return undefined;
  const f = line.split(':');
  if (f.length < 4) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === '' || f[3] === '') return undefined;
  return { name: f[0]!, passwd: f[1]!, uid, gid, home: f[5] ?? '', shell: f[6] ?? '' };
}

/** Find `name` in a passwd-format file (vdomain_passwd). */
export async function passwdFileLookup(file: string, name: string): Promise<PasswdEntry | undefined> {
  const text = await readFile(file, 'utf8');
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}:`)) continue;
    const e = parsePasswdLine(line);
    if (e && e.name === name) return e;
  }
  return undefined;
}

export interface ShadowEntry {
  hash: string;
  /** Account expiry in days since 1970-01-01 (field 8), if set. */
  expireDays?: number;
}

/** The /etc/shadow record of `name`; throws when the file cannot be read (not root). */
export async function shadowLookup(name: string, file = '/etc/shadow'): Promise<ShadowEntry | undefined> {
  const text = await readFile(file, 'utf8');
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}:`)) continue;
    const f = line.split(':');
    const expire = f[7] ? Number(f[7]) : NaN;
    return { hash: f[1] ?? '', ...(Number.isFinite(expire) ? { expireDays: expire } : {}) };
  }
  return undefined;
}
