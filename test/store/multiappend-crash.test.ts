// MULTIAPPEND is all or nothing under kill -9 (RFC 3502), in both stores: a child process appending
// batches through MailStore.appendMany() is killed at every named step of the write (store killpoints)
// and at random moments; afterwards a fresh store must show every batch whole or not at all, each
// message byte for byte, every batch whose append returned, and the messages that were there before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorker } from './worker-build.js';
import { ROOT } from '../helpers/site.js';
import { defaultSettings, quietLog } from './helpers.js';
import { MboxStore } from '../../src/store/mbox/store.js';
import { createMaildirStore } from '../../src/store/maildir/index.js';
import { resolveMboxPaths } from '../../src/store/paths.js';
import type { MailStore } from '../../src/store/types.js';
import { BATCH, batchMessage } from './multiappend-kit.js';
import { POINTS } from './crash-kit.js';

let work = '';
let worker = '';
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'store-multiappend-'));
  worker = await buildWorker('multiappend-worker', work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Kind = 'mbox' | 'maildir';
let seq = 0;

/** A place with one message delivered as an MDA would (no rewrite of ours needed before the append). */
function place(kind: Kind): { where: string; store(): MailStore } {
  const dir = join(work, `u${++seq}`);
  mkdirSync(dir);
  if (kind === 'mbox') {
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    const settings = defaultSettings({ drop_path: spool, lock_timeout: 20, lock_stale: 30 });
    const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
    writeFileSync(paths.inbox, 'From mda@example.com Tue Jan  2 03:04:05 2024\nSubject: before\n\nbefore\n\n');
    return { where: spool, store: () => new MboxStore(paths, settings, quietLog) };
  }
  const root = join(dir, 'mdir');
  const settings = defaultSettings({ use_maildir: true, lock_timeout: 20 });
  for (const d of ['tmp', 'new', 'cur']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'new', '1704164645.M1P1.host'), 'Subject: before\n\nbefore\n');
  return { where: root, store: () => createMaildirStore({ inbox: root, folders: root, indexDir: root, kind: 'maildir' }, settings, quietLog) };
}

/** Run the worker; kill it `killMs` after it is ready (undefined: let it run once to the end or its
 *  killpoint). Returns the batches whose append returned. */
function run(kind: Kind, where: string, tag: string, opts: { killpoint?: string; killMs?: number }): Promise<{ done: string[]; stderr: string; signal: string | null }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules') };
    if (opts.killpoint) env.DMAIL_STORE_KILLPOINT = opts.killpoint;
    const child = spawn(process.execPath, [worker, kind, where, opts.killMs === undefined ? 'once' : 'loop', tag], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const done: string[] = [];
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let i;
      while ((i = out.indexOf('\n')) >= 0) {
        const l = out.slice(0, i);
        out = out.slice(i + 1);
        if (l === 'R' && opts.killMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), opts.killMs);
        if (l.startsWith('B ')) done.push(l.slice(2));
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (_code, signal) => { clearTimeout(timer); clearTimeout(guard); resolve({ done, stderr, signal }); });
  });
}

/** Every batch whole or absent, byte for byte; returns the batches present. */
async function batches(store: MailStore): Promise<{ present: Map<string, number>; others: number }> {
  const box = await store.open('INBOX');
  const present = new Map<string, number>();
  let others = 0;
  const uidsOf = new Map<string, number[]>();
  for (const m of box.state.messages) {
    const text = (await box.read(m.uid)).toString('latin1');
    const b = /^Subject: batch (\S+) part (\d+)\r\n/.exec(text);
    if (!b) { others++; continue; }
    expect(text).toBe(batchMessage(b[1]!, Number(b[2])));
    expect(m.flags.has('\\Seen')).toBe(Number(b[2]) % 2 === 1);
    present.set(b[1]!, (present.get(b[1]!) ?? 0) + 1);
    uidsOf.set(b[1]!, [...(uidsOf.get(b[1]!) ?? []), m.uid]);
  }
  await box.close();
  for (const [batch, n] of present) expect(n, `batch ${batch} is partial`).toBe(BATCH);
  return { present, others };
}

const STEPS: Record<Kind, string[]> = {
  mbox: ['append-logged', ...POINTS],
  maildir: ['multiappend-tmp', 'multiappend-committed', 'multiappend-moving', 'multiappend-moved'],
};
// From these on, the batch must be there (the commit point is passed).
const COMMITTED: Record<Kind, Set<string>> = {
  mbox: new Set(POINTS.slice(POINTS.indexOf('journal-committed'))),
  maildir: new Set(['multiappend-committed', 'multiappend-moving', 'multiappend-moved']),
};

for (const kind of ['mbox', 'maildir'] as const) {
  describe(`MULTIAPPEND under kill -9 (${kind})`, () => {
    it('all or nothing at each step of the write', async () => {
      const step = async (point: string) => {
        const p = place(kind);
        // Opened once, as in a live system (UIDs given, index written); the message there must survive.
        await (await p.store().open('INBOX')).close();
        const r = await run(kind, p.where, 'k', { killpoint: point });
        expect(r.stderr).toBe('');
        expect(r.signal, `killpoint ${point} not reached`).toBe('SIGKILL');
        const { present, others } = await batches(p.store());
        expect(others).toBe(1);
        expect(present.has('k-0'), `after a kill at ${point}`).toBe(COMMITTED[kind].has(point));
        // The store still works: the next append lands whole, after the recovered one.
        const next = await p.store().appendMany('INBOX', [{ message: Buffer.from('Subject: after\r\n\r\na\r\n') }, { message: Buffer.from('Subject: after2\r\n\r\nb\r\n') }]);
        expect(next.uids).toHaveLength(2);
        expect(next.uids[1]).toBe(next.uids[0]! + 1);
      };
      // Three workers at a time (each in its own mailbox).
      const points = [...STEPS[kind]];
      await Promise.all([0, 1, 2].map(async () => { for (let p = points.shift(); p; p = points.shift()) await step(p); }));
    });

    it('all or nothing when killed at random moments, batch after batch', async () => {
      const p = place(kind);
      const returned = new Set<string>();
      for (let round = 0; round < 4; round++) {
        const r = await run(kind, p.where, `r${round}`, { killMs: 10 + Math.floor(Math.random() * 150) });
        expect(r.stderr).toBe('');
        for (const b of r.done) returned.add(b);
        const { present } = await batches(p.store());
        for (const b of returned) expect(present.has(b), `batch ${b} returned but is gone`).toBe(true);
      }
    });
  });
}
