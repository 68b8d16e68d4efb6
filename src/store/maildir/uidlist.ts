// dovecot-uidlist, the file that gives maildir messages their IMAP UIDs (Dovecot's format, so a site can
// switch servers without clients re-downloading). Version 3:
//   3 V<uidvalidity> N<nextuid> G<mailbox guid> [other header fields kept verbatim]
//   <uid> [<key><value> ...] :<base file name>
// Version 1 (Dovecot 1.0, Courier) is read too: "1 <uidvalidity> <nextuid>" then "<uid> <file name>".

import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';

export const UIDLIST = 'dovecot-uidlist';

export interface UidRecord {
  uid: number;
  base: string;
  /** Extension fields in file order, e.g. ['W1234', 'S1200']. */
  ext: string[];
}

export interface UidList {
  uidValidity: number;
  nextUid: number;
  guid: string;
  /** Header fields we do not interpret, written back unchanged. */
  extraHeader: string[];
  records: UidRecord[];
  byBase: Map<string, UidRecord>;
}

/** A parsed list as shared by the process cache (uidlist-sync.ts `loadUidList`): never changed. */
export interface SharedUidList {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly guid: string;
  readonly extraHeader: readonly string[];
  readonly records: readonly UidRecord[];
  readonly byBase: ReadonlyMap<string, UidRecord>;
}

export function emptyUidList(uidValidity: number): UidList {
  return {
    uidValidity, nextUid: 1, guid: randomBytes(16).toString('hex'), extraHeader: [], records: [], byBase: new Map(),
  };
}

/** Parse; returns undefined when the file is unusable (then it is recreated, as Dovecot does). */
export function parseUidList(text: string): UidList | undefined {
  const lines = text.split('\n');
  // A last line without its newline is a write in progress (or cut by a crash): not a record yet.
  lines[lines.length - 1] = '';
  const header = lines[0]?.split(' ') ?? [];
  const list: UidList = { uidValidity: 0, nextUid: 1, guid: '', extraHeader: [], records: [], byBase: new Map() };
  let version: number;
  if (header[0] === '3') {
    version = 3;
    for (const field of header.slice(1)) {
      if (!field) continue;
      const key = field[0];
      const value = field.slice(1);
      if (key === 'V') list.uidValidity = Number(value) >>> 0;
      else if (key === 'N') list.nextUid = Number(value) >>> 0;
      else if (key === 'G') list.guid = value;
      else list.extraHeader.push(field);
    }
  } else if (header[0] === '1' && header.length >= 3) {
    version = 1;
    list.uidValidity = Number(header[1]) >>> 0;
    list.nextUid = Number(header[2]) >>> 0;
  } else {
    return undefined;
  }
  if (!list.uidValidity) return undefined;
  let prev = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const m = /^(\d+) (.*)$/.exec(line);
    if (!m) continue; // a broken line costs that message its UID, never the file
    const uid = Number(m[1]);
    if (uid <= prev || uid >= 0xffffffff) continue;
    let rest = m[2].replace(/^ +/, '');
    const ext: string[] = [];
    if (version === 3) {
      while (rest.length > 0 && rest[0] !== ':') {
        const sp = rest.indexOf(' ');
        const field = sp < 0 ? rest : rest.slice(0, sp);
        if (/^[A-Z]/.test(field)) ext.push(field);
        rest = sp < 0 ? '' : rest.slice(sp + 1).replace(/^ +/, '');
      }
      if (rest[0] === ':') rest = rest.slice(1);
    }
    if (!rest || rest.includes('/')) continue;
    const colon = rest.indexOf(':');
    const base = colon < 0 ? rest : rest.slice(0, colon);
    prev = uid;
    const old = list.byBase.get(base);
    if (old) list.records.splice(list.records.indexOf(old), 1); // Dovecot: the later line wins
    const rec: UidRecord = { uid, base, ext };
    list.records.push(rec);
    list.byBase.set(base, rec);
  }
  if (list.nextUid <= prev) list.nextUid = prev + 1;
  if (!list.guid) list.guid = randomBytes(16).toString('hex');
  return list;
}

export function formatRecord(r: UidRecord): string {
  return `${r.uid}${r.ext.map((e) => ` ${e}`).join('')} :${r.base}\n`;
}

export function formatUidList(list: UidList): string {
  const head = [`3 V${list.uidValidity} N${list.nextUid} G${list.guid}`, ...list.extraHeader].join(' ');
  return `${head}\n${list.records.map(formatRecord).join('')}`;
}

export function extValue(rec: UidRecord | undefined, key: string): string | undefined {
  const f = rec?.ext.find((e) => e[0] === key);
  return f?.slice(1);
}

export interface UidListFile {
  list: UidList | undefined;
  /** Identity of the file read, to skip re-parsing when unchanged. */
  stamp: string;
  /** The file ends with a complete line, so records can be appended to it. */
  appendable: boolean;
}

export async function readUidList(path: string): Promise<UidListFile> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { list: undefined, stamp: 'none', appendable: false };
    throw e;
  }
  try {
    const st = await fh.stat({ bigint: true });
    const text = (await fh.readFile()).toString('latin1');
    return { list: parseUidList(text), stamp: `${st.ino}:${st.size}:${st.mtimeNs}`, appendable: text.endsWith('\n') };
  } finally {
    await fh.close();
  }
}

/** UIDVALIDITY from the header line alone (a few hundred bytes read), or undefined. */
export async function uidListValidity(path: string): Promise<number | undefined> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const b = Buffer.alloc(512);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    const text = b.subarray(0, bytesRead).toString('latin1');
    const nl = text.indexOf('\n');
    return nl < 0 ? undefined : parseUidList(text.slice(0, nl + 1))?.uidValidity;
  } finally {
    await fh.close();
  }
}

export async function uidListStamp(path: string): Promise<string> {
  try {
    const st = await fsp.stat(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return 'none';
  }
}
