// Issue 13, hole 3: a redo journal is replayed only when this uid wrote it, and every offset in it is
// bounded by the journal and by the spool it patches. Forged journals against a real spool file.
import { chmodSync, chownSync, closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { replayJournal } from '../../src/store/mbox/journal.js';
import { cleanupTempDirs, memLogger, tempDir } from '../auth/helpers.js';
import { isRoot } from '../auth/system-users.js';

const SPOOL = 'From a@b Tue Jan  2 03:04:05 2024\nSubject: hello\n\nordinary mail\n\n';

function journal(head: Record<string, unknown>, data: Buffer): Buffer {
  const hb = Buffer.alloc(4096, 0x20);
  hb.write(JSON.stringify({ v: 1, oldTailHash: '', newHash: createHash('sha1').update(data).digest('hex'), ...head }));
  return Buffer.concat([hb, data]);
}
function patch(segs: [number, number][], bytes: Buffer): Buffer {
  const s = Buffer.alloc(segs.length * 16);
  segs.forEach(([x, len], i) => { s.writeDoubleLE(x, i * 16); s.writeDoubleLE(len, i * 16 + 8); });
  return Buffer.concat([s, bytes]);
}

describe('journal replay trusts only its own, bounded journals', () => {
  let dir: string;
  let spool: string;
  let jpath: string;
  let ino: string;
  beforeEach(() => {
    dir = tempDir('dmail-jtrust-');
    spool = join(dir, 'box');
    jpath = join(dir, 'box.journal');
    writeFileSync(spool, SPOOL);
    ino = String(statSync(spool, { bigint: true }).ino);
  });
  afterAll(() => cleanupTempDirs());
  const replay = () => {
    const fd = openSync(spool, constants.O_RDWR);
    const log = memLogger();
    try { return { changed: replayJournal(fd, jpath, log), log: log.text() }; } finally { closeSync(fd); }
  };

  it('replays a well-formed patch journal of our own (the normal crash recovery)', () => {
    const at = SPOOL.indexOf('ordinary');
    const data = patch([[at, 8]], Buffer.from('ORDINARY'));
    writeFileSync(jpath, journal({ kind: 'patch', nsegs: 1, ino, x: 0, oldSize: SPOOL.length, newLen: data.length }, data), { mode: 0o600 });
    expect(replay().changed).toBe(true);
    expect(readFileSync(spool, 'latin1')).toContain('ORDINARY mail');
  });

  it('a patch past the end of the spool, or data longer than the journal, is discarded untouched', () => {
    const cases: Buffer[] = [];
    const far = patch([[SPOOL.length + 100, 4]], Buffer.from('EVIL'));
    cases.push(journal({ kind: 'patch', nsegs: 1, ino, x: 0, oldSize: SPOOL.length, newLen: far.length }, far));
    const big = patch([[0, 4]], Buffer.from('EVIL'));
    cases.push(journal({ kind: 'patch', nsegs: 1, ino, x: 0, oldSize: SPOOL.length, newLen: big.length + 1_000_000 }, big));
    const neg = patch([[-4, 4]], Buffer.from('EVIL'));
    cases.push(journal({ kind: 'patch', nsegs: 1, ino, x: 0, oldSize: SPOOL.length, newLen: neg.length }, neg));
    const tail = Buffer.from('EVIL');
    cases.push(journal({ ino, x: SPOOL.length + 4096, oldSize: SPOOL.length + 4096, newLen: tail.length }, tail));
    for (const j of cases) {
      writeFileSync(jpath, j, { mode: 0o600 });
      const r = replay();
      expect(r.changed).toBe(false);
      expect(r.log).toContain('not trusted');
      expect(existsSync(jpath)).toBe(false);
      expect(readFileSync(spool, 'latin1')).toBe(SPOOL);
      expect(statSync(spool).size).toBe(SPOOL.length);
    }
  });

  it('a journal writable by others, or (as root) owned by another uid, is never replayed', () => {
    const at = SPOOL.indexOf('ordinary');
    const data = patch([[at, 8]], Buffer.from('PWNED!!!'));
    const j = journal({ kind: 'patch', nsegs: 1, ino, x: 0, oldSize: SPOOL.length, newLen: data.length }, data);
    writeFileSync(jpath, j, { mode: 0o666 });
    chmodSync(jpath, 0o666);
    expect(replay().changed).toBe(false);
    expect(readFileSync(spool, 'latin1')).toBe(SPOOL);
    if (isRoot) {
      writeFileSync(jpath, j, { mode: 0o600 });
      chownSync(jpath, 65534, 65534);
      expect(replay().changed).toBe(false);
      expect(readFileSync(spool, 'latin1')).toBe(SPOOL);
    }
  });
});
