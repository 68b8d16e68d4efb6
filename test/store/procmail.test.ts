// Real MDA concurrency: Debian's procmail (dot-lock + fcntl, `:0:`) delivers hundreds of messages into
// the drop file while store sessions in this process and in another process read, flag and expunge.
// Afterwards every delivered message exists exactly once: still in INBOX or expunged by a session.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { tempUser } from './helpers.js';
import { buildWorker } from './worker-build.js';
import type { Mailbox, MailStore } from '../../src/store/types.js';
import { openChangeLog, CHANGE_APPEND, CHANGE_EXPUNGE } from '../../src/store/changelog.js';
import { parseSpool } from '../../src/store/mbox/parse.js';
import { openSync, closeSync, fstatSync } from 'node:fs';

const haveProcmail = spawnSync('procmail', ['-v']).status === 0;
let workDir: string;
let worker: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'store-procmail-'));
  worker = await buildWorker('crash-worker', workDir);
});
afterAll(() => { rmSync(workDir, { recursive: true, force: true }); });

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const text = (i: number) => `From: mda${i}@example.com\nTo: bob@example.com\nSubject: procmail ${i}\nMessage-ID: <p-${i}@x>\n\nbody of ${i}\n` + 'line\n'.repeat(i % 7);

function deliver(rc: string, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('procmail', ['-m', rc], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`procmail ${i} exit ${code}: ${err}`))));
    p.stdin.end(`From mda${i}@example.com Tue Jan  2 03:04:05 2024\n${text(i)}`);
  });
}

const idOf = (b: Buffer) => /Message-ID: (<[^>]+>)/.exec(b.toString('latin1'))?.[1] ?? '?';

describe.skipIf(!haveProcmail)('procmail delivering while sessions read, flag and expunge', () => {
  it('keeps every delivered message exactly once (200 deliveries)', { timeout: 180_000 }, async () => {
    const u = tempUser({ lock_timeout: 60 });
    try {
      const rc = join(u.dir, 'procmailrc');
      writeFileSync(rc, `LOGFILE=/dev/null\nVERBOSE=off\nLOCKTIMEOUT=120\nLOCKSLEEP=1\n:0:\n${u.paths.inbox}\n`);
      const TOTAL = 200;
      const expunged = new Map<string, number>();
      let done = false;
      // Four delivery streams at once. Sessions pause between operations like real clients: procmail
      // sleeps a whole second whenever it finds the spool locked, so a busier mix only slows the test.
      const streams = [0, 1, 2, 3].map(async (s) => {
        for (let i = s; i < TOTAL; i += 4) await deliver(rc, i);
      });
      const session = async (store: MailStore, kind: 'imap' | 'pop') => {
        let box: Mailbox = await store.open('INBOX', { claimRecent: kind === 'imap' });
        let n = 0;
        // Mod-sequences seen by this session: HIGHESTMODSEQ and each message's never go back.
        let highest = box.state.highestModseq;
        const modseqOf = new Map<number, number>();
        while (!done) {
          await box.refresh();
          const msgs = box.state.messages;
          expect(box.state.highestModseq).toBeGreaterThanOrEqual(highest);
          highest = box.state.highestModseq;
          for (const m of msgs) {
            expect(m.modseq).toBeLessThanOrEqual(highest);
            expect(m.modseq).toBeGreaterThanOrEqual(modseqOf.get(m.uid) ?? 1);
            modseqOf.set(m.uid, m.modseq);
          }
          // IMAP tells its client and acknowledges: expunged messages may then leave the spool while
          // procmail delivers. POP3 never does (its listing holds until it closes).
          if (kind === 'imap') box.acknowledge(box.state);
          if (msgs.length) {
            const m = msgs[(n * 13) % msgs.length]!;
            const body = await box.read(m.uid).catch(() => null);
            if (body) {
              const id = idOf(body);
              expect(body.toString('latin1')).toBe(crlf(text(Number(id.slice(3, -3)))));
              if (kind === 'imap') await box.setFlags([m.uid], n % 2 ? 'add' : 'remove', ['\\Seen', '$Label1']);
              if (n % 3 === 0) {
                const removed = await box.expunge([m.uid]);
                if (removed.includes(m.uid)) expunged.set(id, (expunged.get(id) ?? 0) + 1);
              }
            }
          }
          n++;
          if (kind === 'pop' && n % 10 === 0) { await box.close(); box = await store.open('INBOX'); }
          await new Promise((r) => setTimeout(r, 1500));
        }
        await box.close();
      };
      // A session in another process flags messages the whole time (fcntl locks only exclude processes).
      const other = spawn(process.execPath, [worker, u.spool, 'flags', '100000'], {
        env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), CRASH_PAUSE_MS: '1500' }, stdio: 'ignore',
      });
      const sessions = [session(u.store(), 'imap'), session(u.store(), 'imap'), session(u.store(), 'pop')];
      await Promise.all(streams);
      done = true;
      await Promise.all(sessions);
      other.kill('SIGTERM');
      await new Promise((r) => other.once('exit', r));

      const box = await u.store().open('INBOX');
      const seen = new Map<string, number>();
      for (const m of box.state.messages) {
        const body = await box.read(m.uid);
        const id = idOf(body);
        expect(body.toString('latin1')).toBe(crlf(text(Number(id.slice(3, -3)))));
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      const uids = box.state.messages.map((m) => m.uid);
      expect(new Set(uids).size).toBe(uids.length);
      for (let i = 0; i < TOTAL; i++) {
        const id = `<p-${i}@x>`;
        expect((seen.get(id) ?? 0) + (expunged.get(id) ?? 0), id).toBe(1);
      }
      expect(expunged.size).toBeGreaterThan(0);
      // Every change got its own mod-sequence, strictly increasing, and every message its append record.
      const log = openChangeLog(join(u.paths.indexDir, 'INBOX.modlog'), box.state.uidValidity);
      const all = log.since(0);
      expect(all.complete || log.baseModseq() <= 1).toBe(true);
      for (let i = 1; i < all.records.length; i++) expect(all.records[i]!.modseq).toBeGreaterThan(all.records[i - 1]!.modseq);
      const appended = new Map<number, number>();
      for (const r of all.records) if (r.kind === CHANGE_APPEND) for (const uid of r.uids) appended.set(uid, r.modseq);
      for (const m of box.state.messages) {
        expect(appended.get(m.uid), `UID ${m.uid} has no append record`).toBeDefined();
        expect(m.modseq).toBeGreaterThanOrEqual(appended.get(m.uid)!);
        expect(m.modseq).toBeLessThanOrEqual(box.state.highestModseq);
      }
      expect(all.records.filter((r) => r.kind === CHANGE_EXPUNGE).reduce((k, r) => k + r.uids.length, 0)).toBe([...expunged.values()].reduce((a, b) => a + b, 0));
      await box.close();
      // Every session is gone: nothing is pending, and the spool holds exactly what INBOX shows.
      expect(log.pendingExpunges()).toEqual([]);
      const fd = openSync(u.paths.inbox, 'r');
      try { expect(parseSpool(fd, 0, fstatSync(fd).size)!.messages).toHaveLength(box.state.messages.length); } finally { closeSync(fd); }
    } finally { u.cleanup(); }
  });
});
