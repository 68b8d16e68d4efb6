// A 200 MB message goes out streamed: the whole response arrives byte-exact (stuffed), and dpop's peak
// memory stays far below the message size when the store streams from the file.
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { BIN, fromLineDate, makeSite, type Site, removeSite } from '../helpers/site.js';
import { listen, type Listener } from '../helpers/listener.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const LINES = 200_000;
const LINE = 'x'.repeat(998);

type Kind = 'mbox' | 'maildir';

/** The big message as a drop file (mbox) or as one file in bob's maildir. */
function writeBigSpool(site: Site, kind: Kind): { rfcSize: number; stuffed: number } {
  let fd: number;
  const header = 'Subject: big\nFrom: a@example.com\n\n';
  if (kind === 'mbox') {
    fd = openSync(site.drop('bob'), 'w');
    writeSync(fd, `From a@example.com ${fromLineDate(new Date('2024-01-02T03:04:05Z'))}\n${header}`);
  } else {
    const dir = join(site.dir, 'maildirs', 'bob.mdir');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
    fd = openSync(join(dir, 'cur', '1700000000.M1P1.test:2,'), 'w');
    writeSync(fd, header);
  }
  let stuffed = 0;
  const block: string[] = [];
  for (let i = 0; i < LINES; i++) {
    const dotted = i % 1000 === 7;
    if (dotted) stuffed++;
    block.push((dotted ? '.' : 'y') + LINE + '\n');
    if (block.length === 1000) { writeSync(fd, block.join('')); block.length = 0; }
  }
  writeSync(fd, block.join('') + (kind === 'mbox' ? '\n' : ''));
  closeSync(fd);
  const headerLines = 3;
  return { rfcSize: header.length + headerLines + LINES * (LINE.length + 2) + LINES, stuffed };
}

interface Retrieved { rfcSize: number; stuffed: number; bodyBytes: number; dotLines: number; hwmKb: number }

/** One session: log in, RETR the big message, read dpop's peak memory before QUIT. With `warm`, an
 *  earlier session has opened the mailbox already, so the store's first-open indexing is not counted. */
async function retrieveBig(kind: Kind, warm = false): Promise<Retrieved> {
  const site = makeSite();
  cleanup.push(() => removeSite(site.dir));
  if (kind === 'maildir') site.setConfig({ use_maildir: true, maildir_home: join(site.dir, 'maildirs') });
  site.addUser('bob', { pass: 'secret' });
  const { rfcSize, stuffed } = writeBigSpool(site, kind);
  const l: Listener = await listen(BIN.dpop, ['-i', site.conf]);
  cleanup.push(() => l.close());
  if (warm) {
    const first = connect(l.port, '127.0.0.1');
    first.resume();
    first.write('USER bob\r\nPASS secret\r\nQUIT\r\n');
    await new Promise((r) => first.once('close', r));
  }

  const sock = connect(l.port, '127.0.0.1');
  cleanup.push(() => { sock.destroy(); });
  let text = '';
  let phase: 'lines' | 'body' = 'lines';
  let bodyBytes = 0;
  let tail = Buffer.alloc(0);
  let dotLines = 0;
  let last = '';
  let pending: ((s: string) => void) | null = null;
  let bodyDone: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    if (phase === 'lines') {
      text += d.toString('latin1');
      const i = text.indexOf('\r\n');
      if (i >= 0 && pending) { const line = text.slice(0, i); text = text.slice(i + 2); const p = pending; pending = null; p(line); }
      return;
    }
    bodyBytes += d.length;
    // A 2-byte carry cannot hold a whole 3-byte match, so nothing is counted twice.
    const joined = Buffer.concat([tail, d]).toString('latin1');
    dotLines += joined.split('\n..').length - 1;
    last = (last + joined).slice(-5);
    tail = Buffer.from(joined.slice(-2), 'latin1');
    if (last === '\r\n.\r\n') bodyDone?.();
  });
  const line = () => new Promise<string>((r) => {
    const i = text.indexOf('\r\n');
    if (i >= 0) { const s = text.slice(0, i); text = text.slice(i + 2); r(s); } else pending = r;
  });
  const cmd = (s: string) => { sock.write(s + '\r\n'); return line(); };
  expect(await line()).toMatch(/^\+OK/);
  await cmd('USER bob');
  expect(await cmd('PASS secret')).toMatch(/^\+OK bob has 1 msgs/);
  expect(await cmd('LIST 1')).toBe(`+OK 1 ${rfcSize}`);
  const status = await cmd('RETR 1');
  expect(status).toBe(`+OK ${rfcSize} octets`);
  phase = 'body';
  const done = new Promise<void>((r) => (bodyDone = r));
  if (text.length) { sock.emit('data', Buffer.from(text, 'latin1')); text = ''; }
  await done;

  // The server is still alive in TRANSACTION state: read its peak resident memory.
  const pid = findDpopPid(site);
  const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))![1]);
  phase = 'lines';
  expect(await cmd('QUIT')).toMatch(/^\+OK/);
  return { rfcSize, stuffed, bodyBytes, dotLines, hwmKb };
}

describe('large message', () => {
  it('mbox: RETR of a 200 MB message arrives complete and stuffed; dpop\'s peak RSS stays < 150 MB', async () => {
    // Warm: the store's first indexing of the fresh spool is measured separately below.
    const r = await retrieveBig('mbox', true);
    expect(r.bodyBytes).toBe(r.rfcSize + r.stuffed + 3);
    expect(r.dotLines).toBe(r.stuffed);
    expect(r.hwmKb).toBeLessThan(150 * 1024);
  });

  it('with a store that streams from the file (maildir), dpop\'s peak RSS stays < 150 MB', async () => {
    const r = await retrieveBig('maildir');
    expect(r.bodyBytes).toBe(r.rfcSize + r.stuffed + 3);
    expect(r.dotLines).toBe(r.stuffed);
    expect(r.hwmKb).toBeLessThan(150 * 1024);
  });

  // The store's first open (indexing) of the fresh 200 MB spool streams too (src/store/mbox/meter.ts).
  it('with the mbox store, even the first open of the spool stays < 150 MB', async () => {
    const r = await retrieveBig('mbox');
    expect(r.hwmKb).toBeLessThan(150 * 1024);
  });
});

/** The dpop process serving this site: found by its -i argument in /proc. */
function findDpopPid(site: Site): number {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'latin1');
      if (cmdline.includes(site.conf) && cmdline.includes('dpop')) return Number(p);
    } catch { /* process went away */ }
  }
  throw new Error('dpop process not found');
}
