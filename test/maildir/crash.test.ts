// kill -9 at random moments while a process appends, changes flags, expunges and copies: afterwards a
// fresh store must show every message that was not being expunged, byte for byte, each with exactly one
// UID, an intact dovecot-uidlist with ascending UIDs, and no lock left in anyone's way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseUidList } from '../../src/store/maildir/uidlist.js';
import { mdaDeliver, storeAt, tempDir } from './fixture.js';
import { buildMaildirWorker, workerEnv } from './worker.js';

let work: string;
let worker: string;

beforeAll(async () => {
  work = tempDir('dmail-maildir-crash-');
  worker = await buildMaildirWorker('crash-worker', work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const base = (i: number) => `From: s${i}@example.com\nSubject: base ${i}\nMessage-ID: <base-${i}@x>\n\nbody ${i}\n`;

/** Run the worker, SIGKILL it `ms` after it is ready (so a loaded machine still kills mid-work). */
function runAndKill(root: string, round: number, ms: number): Promise<{ appended: Set<string>; expunging: Set<string>; expunged: Set<string>; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [worker, root, String(round)], { stdio: ['ignore', 'pipe', 'pipe'], env: workerEnv() });
    const appended = new Set<string>();
    const expunging = new Set<string>();
    const expunged = new Set<string>();
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let i;
      while ((i = out.indexOf('\n')) >= 0) {
        const [kind, id] = out.slice(0, i).split(' ');
        out = out.slice(i + 1);
        if (kind === 'R') timer = setTimeout(() => child.kill('SIGKILL'), ms);
        if (kind === 'A') appended.add(id!);
        if (kind === 'E') expunging.add(id!);
        if (kind === 'X') expunged.add(id!);
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    let timer: NodeJS.Timeout | undefined;
    // A worker that never gets ready is killed too, and the empty report fails the test below.
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', () => { clearTimeout(timer); clearTimeout(guard); resolve({ appended, expunging, expunged, stderr }); });
  });
}

describe('maildir under kill -9', () => {
  it('loses nothing and keeps UIDs consistent across 12 rounds of two processes killed at random', async () => {
    const root = join(work, 'mail');
    for (let i = 1; i <= 5; i++) await mdaDeliver(root, base(i));
    const mustExist = new Set<string>();
    const gone = new Set<string>();
    const uidOf = new Map<string, number>();
    // Twelve rounds; on a machine so loaded that no expunge completed before its kill in them, a few more
    // with longer lives (up to 24 rounds), so that the "never resurrected" check below has something to check.
    for (let round = 0; round < 12 || (gone.size === 0 && round < 24); round++) {
      const life = () => (round < 12 ? 20 + Math.floor(Math.random() * 300) : 300 + Math.floor(Math.random() * 900));
      // Two processes at once: they race for the uidlist lock, and either may die holding it.
      const runs = await Promise.all([
        runAndKill(root, round * 2, life()),
        runAndKill(root, round * 2 + 1, life()),
      ]);
      for (const r of runs) {
        expect(r.stderr).toBe('');
        for (const id of r.appended) mustExist.add(id);
      }
      for (const r of runs) for (const id of r.expunging) mustExist.delete(id);
      for (const r of runs) for (const id of r.expunged) gone.add(id);

      const store = storeAt(root);
      const box = await store.open('INBOX');
      const seen = new Map<string, number>();
      for (const m of box.state.messages) {
        const text = (await box.read(m.uid)).toString('latin1');
        expect(m.size).toBe(text.length);
        const id = /Message-ID: <([^>]+)@x>/.exec(text)?.[1];
        expect(id, text.slice(0, 100)).toBeDefined();
        if (id!.startsWith('base-')) {
          const i = Number(id!.slice(5));
          expect(text).toBe(base(i).replace(/\n/g, '\r\n'));
        } else {
          expect(text).toBe(`Subject: ${id}\r\nMessage-ID: <${id}@x>\r\n\r\nbody ${id}\r\n`);
        }
        expect(seen.has(id!), `${id} twice`).toBe(false);
        seen.set(id!, m.uid);
        // A message keeps its UID for life.
        if (uidOf.has(id!)) expect(m.uid).toBe(uidOf.get(id!));
        uidOf.set(id!, m.uid);
      }
      for (let i = 1; i <= 5; i++) expect(seen.has(`base-${i}`)).toBe(true);
      for (const id of mustExist) expect(seen.has(id), `${id} lost in round ${round}`).toBe(true);
      // An expunge that returned never comes back (deferred removal: hidden by the log until purged).
      for (const id of gone) expect(seen.has(id), `${id} resurrected in round ${round}`).toBe(false);
      await box.close();

      const list = parseUidList(readFileSync(join(root, 'dovecot-uidlist'), 'latin1'))!;
      const uids = list.records.map((x) => x.uid);
      expect(uids).toEqual([...uids].sort((a, b) => a - b));
      expect(new Set(uids).size).toBe(uids.length);
      expect(list.nextUid).toBeGreaterThan(Math.max(0, ...uids));
    }
    expect(mustExist.size).toBeGreaterThan(5);
    expect(gone.size).toBeGreaterThan(0);
    // The last victim's lock (if any) names a dead process: broken at once (lock_timeout is 5 s here).
    await storeAt(root).append('INBOX', Buffer.from('Subject: after\r\n\r\nx\r\n'));
    expect(existsSync(join(root, 'dovecot-uidlist.lock'))).toBe(false);
  });
});
