// Listing a maildir's new/ and cur/. new/ is read before cur/ so that a message moving new→cur while we
// list is seen at least once (the other order could miss it and report a false expunge), and cur/ is
// re-read when it changed during the listing (renames can make readdir skip entries).

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { parseName } from './filename.js';
import { Pacer } from '../pace.js';

export interface ScanEntry {
  sub: 'new' | 'cur';
  file: string;
  /** The name's bytes when they are not UTF-8 (`file` then holds U+FFFD and cannot open it). */
  raw?: Buffer;
}

export interface Scan {
  /** Base name → where the message is. */
  files: Map<string, ScanEntry>;
  /** Files that need a new base name before they can be listed: true duplicates of a base already
   *  taken (not a move seen twice), names with line breaks (a dovecot-uidlist record is one line),
   *  empty base names and names that are not UTF-8. Writable sessions rename them; until then they
   *  are not shown. */
  duplicates: ScanEntry[];
}

async function listSub(dir: string, sub: 'new' | 'cur'): Promise<{ file: string; raw?: Buffer }[]> {
  try {
    const ents = await fsp.readdir(join(dir, sub), { withFileTypes: true });
    // Hidden files are tools' temporaries; directories, FIFOs and devices are not messages (reading a
    // FIFO would hang the session). Symbolic links are followed and checked when stat'ed.
    const out: { file: string; raw?: Buffer }[] = ents
      .filter((d) => !d.name.startsWith('.') && (d.isFile() || d.isSymbolicLink()))
      .map((d) => ({ file: d.name }));
    if (out.some((e) => e.file.includes('\uFFFD'))) {
      // Names that are not UTF-8 decode lossily; find their real bytes so they can be renamed.
      const raws = (await fsp.readdir(join(dir, sub), { encoding: 'buffer' })).filter((b) => Buffer.compare(Buffer.from(b.toString('utf8')), b) !== 0);
      const byDecoded = new Map(raws.map((b) => [b.toString('utf8'), b]));
      for (const e of out) {
        const raw = byDecoded.get(e.file);
        if (raw) e.raw = raw;
      }
    }
    return out;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function dirStamp(path: string): Promise<string> {
  try {
    const st = await fsp.stat(path, { bigint: true });
    return `${st.ino}:${st.mtimeNs}:${st.size}`;
  } catch {
    return '-';
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function scanMaildir(dir: string): Promise<Scan> {
  let newNames: { file: string; raw?: Buffer }[] = [];
  let curNames: { file: string; raw?: Buffer }[] = [];
  for (let attempt = 0; attempt < 4; attempt++) {
    newNames = await listSub(dir, 'new');
    const before = await dirStamp(join(dir, 'cur'));
    curNames = await listSub(dir, 'cur');
    if ((await dirStamp(join(dir, 'cur'))) === before) break;
  }
  const files = new Map<string, ScanEntry>();
  const duplicates: ScanEntry[] = [];
  const unlistable = (base: string, raw: Buffer | undefined) => raw !== undefined || base === '' || /[\r\n]/.test(base);
  const pace = new Pacer();
  for (const { file, raw } of curNames) {
    if (pace.due()) await pace.pause();
    const { base } = parseName(file);
    const prev = files.get(base);
    if (unlistable(base, raw)) {
      duplicates.push({ sub: 'cur', file, ...(raw ? { raw } : {}) });
    } else if (!prev) {
      files.set(base, { sub: 'cur', file });
    } else {
      // The same base twice in cur/: a real duplicate only if both names exist at once. A flag
      // rename (or the T of an expunge) that happened while we listed shows both names too: then
      // the one that exists is the message (renaming the other as a duplicate would give the
      // message a second UID, or bring an expunged one back).
      const prevThere = await exists(join(dir, 'cur', prev.file));
      const thisThere = await exists(join(dir, 'cur', file));
      if (prevThere && thisThere && (await exists(join(dir, 'cur', prev.file)))) duplicates.push({ sub: 'cur', file });
      else if (thisThere) files.set(base, { sub: 'cur', file });
    }
  }
  for (const { file, raw } of newNames) {
    if (pace.due()) await pace.pause();
    const { base } = parseName(file);
    if (unlistable(base, raw)) {
      duplicates.push({ sub: 'new', file, ...(raw ? { raw } : {}) });
    } else if (!files.has(base)) {
      files.set(base, { sub: 'new', file });
    } else if (await exists(join(dir, 'new', file))) {
      duplicates.push({ sub: 'new', file });
    }
    // else: it moved to cur/ while we listed; cur/ already has it.
  }
  return { files, duplicates };
}

/** Find a message by base name after its file name changed (flags) or it moved new→cur. */
export async function locate(dir: string, base: string): Promise<ScanEntry | undefined> {
  for (const sub of ['cur', 'new'] as const) {
    for (const { file } of await listSub(dir, sub)) {
      if (parseName(file).base === base) return { sub, file };
    }
  }
  return undefined;
}
