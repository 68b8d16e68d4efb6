// The benchmark harness's own parts, checked against real files, a real socket and a real auth child:
// if the corpus were not deterministic or the client misread a literal, every figure would be wrong.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:net';
import { spawn } from 'node:child_process';

interface CorpusModule {
  writeMbox(path: string, n: number, seed: number, rcpt: string, opts?: { rareAt?: number[]; big?: { at: number; bytes: number } }): void;
  RARE_WORD: string;
}
interface PopResult { ok: boolean; status: string; lines: number; bytes: number; body: string[] }
interface ImapResult { ok: boolean; status: string; untagged: number; bytes: number; lines: string[] }
interface BenchClient {
  mode: string;
  imap(cmd: string, o?: { collect?: boolean }): Promise<ImapResult>;
  pop(cmd: string, o?: { multi?: boolean; collect?: boolean }): Promise<PopResult>;
  close(): void;
}
interface ClientModule { openClient(port: number): Promise<{ client: BenchClient; greeting: string; greetingMs: number }> }
interface SiteModule {
  writeShellAuthd(path: string, users: Record<string, string>, spool: string): void;
  writeOurSite(dir: string, o: { users: Record<string, string>; authd: string; root: string }): { dir: string; conf: string; spool: string };
}
interface Master {
  port: number; pid: number; conf: string;
  workers(): { pid: number; title: string; rssKB: number }[];
  sample(): Promise<{ pid: number }[]>;
  treeCpuMs(): number;
  stop(): Promise<void>;
}
interface ResidentModule {
  startResidentMaster(o: { name: string; siteConf: string; dir: string; program?: string; extra?: string[]; logDir?: string }): Promise<Master>;
}
interface StatsModule { summary(v: number[]): { median: number; min: number; max: number; n: number } | null }

const load = <T>(m: string) => import(new URL(m, import.meta.url).href) as Promise<T>;

const dirs: string[] = [];
const servers: Server[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'bench-test-')); dirs.push(d); return d; };
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const s of servers.splice(0)) s.close();
});

describe('corpus', () => {
  it('is byte-identical for one seed, differs for another, and is a well-formed mboxrd spool', async () => {
    const { writeMbox, RARE_WORD } = await load<CorpusModule>('./corpus.mjs');
    const d = tmp();
    writeMbox(join(d, 'a'), 300, 42, 'u@example.com', { rareAt: [7, 150] });
    writeMbox(join(d, 'b'), 300, 42, 'u@example.com', { rareAt: [7, 150] });
    writeMbox(join(d, 'c'), 300, 43, 'u@example.com', { rareAt: [7, 150] });
    const a = readFileSync(join(d, 'a'), 'latin1');
    expect(readFileSync(join(d, 'b'), 'latin1')).toBe(a);
    expect(readFileSync(join(d, 'c'), 'latin1')).not.toBe(a);
    const starts = a.split('\n').filter((l) => l.startsWith('From '));
    expect(starts).toHaveLength(300);
    for (const l of starts) expect(l).toMatch(/^From \S+@\S+ \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \d{4}$/);
    expect(a.split(RARE_WORD).length - 1).toBe(2);
    expect(a).toMatch(/^>From what I remember/m); // body "From " lines are quoted
    expect(a).toMatch(/Content-Type: multipart\/(alternative|mixed)/);
    const sizes = a.split(/\n(?=From \S+@)/).map((m) => m.length);
    expect(Math.min(...sizes)).toBeGreaterThan(900);
    expect(Math.max(...sizes)).toBeLessThan(56 * 1024);
  });

  it('puts the big attachment in the requested message', async () => {
    const { writeMbox } = await load<CorpusModule>('./corpus.mjs');
    const d = tmp();
    writeMbox(join(d, 'big'), 5, 9, 'u@example.com', { big: { at: 3, bytes: 2 * 1024 * 1024 } });
    const msgs = readFileSync(join(d, 'big'), 'latin1').split(/\n(?=From \S+@)/);
    expect(msgs).toHaveLength(5);
    expect(msgs[3].length).toBeGreaterThan(2 * 1024 * 1024);
    expect(msgs[3]).toContain('Subject: The big attachment');
  });
});

function scriptedServer(onData: (line: string, write: (s: string) => void) => void, greeting: string): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer((sock) => {
      sock.write(greeting);
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        let i;
        while ((i = buf.indexOf('\r\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); onData(l, (s) => sock.write(s)); }
      });
    });
    servers.push(srv);
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
  });
}

describe('raw client', () => {
  it('skips IMAP literal bytes even when they look like the tagged response', async () => {
    const { openClient } = await load<ClientModule>('./client.mjs');
    const lit = 'b1 OK fake\r\n* 9 EXISTS\r\n' + 'x'.repeat(100_000);
    const port = await scriptedServer((line, w) => {
      const tag = line.split(' ')[0];
      // Split the response in awkward places to exercise partial lines and literals across chunks.
      const whole = `* 1 FETCH (BODY[] {${lit.length}}\r\n${lit})\r\n* SEARCH 3 5\r\n${tag} OK done\r\n`;
      for (let i = 0; i < whole.length; i += 777) w(whole.slice(i, i + 777));
    }, '* OK test ready\r\n');
    const { client, greeting } = await openClient(port);
    expect(greeting).toBe('* OK test ready');
    const r = await client.imap('FETCH 1 BODY[]', { collect: true });
    expect(r.ok).toBe(true);
    expect(r.status).toBe('b1 OK done');
    expect(r.untagged).toBe(3); // FETCH line, its continuation after the literal, SEARCH
    expect(r.lines).toContain('* SEARCH 3 5');
    expect(r.bytes).toBeGreaterThan(lit.length);
    client.close();
  });

  it('reads POP3 multi-line answers to the lone dot, byte-stuffed lines included', async () => {
    const { openClient } = await load<ClientModule>('./client.mjs');
    const port = await scriptedServer((line, w) => {
      if (line === 'UIDL') w('+OK\r\n1 aaa\r\n..2 dotted\r\n3 ccc\r\n.\r\n');
      else w('-ERR no\r\n');
    }, '+OK pop ready\r\n');
    const { client } = await openClient(port);
    client.mode = 'pop3';
    const r = await client.pop('UIDL', { multi: true, collect: true });
    expect(r.ok).toBe(true);
    expect(r.lines).toBe(3);
    const bad = await client.pop('NOPE');
    expect(bad.ok).toBe(false);
    client.close();
  });
});

describe('shell auth module', () => {
  it('answers check/lookup/exit in DMail external-auth form', async () => {
    const { writeShellAuthd } = await load<SiteModule>('./site.mjs');
    const d = tmp();
    const path = join(d, 'authd.sh');
    writeShellAuthd(path, { alice: 'pw-alice', "o'brien": 'p w' }, '/spool');
    const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b.toString()));
    child.stdin.write('check alice pw-alice 127.0.0.1\ncheck alice wrong 127.0.0.1\nlookup alice\nlookup bob\nexit\n');
    await new Promise((r) => child.on('exit', r));
    expect(out.split('\n').filter(Boolean)).toEqual([
      '+OK alice /spool/alice 0',
      '-ERR alice password wrong or not a valid user',
      '+OK alice /spool/alice 0',
      '-ERR bob not a valid user',
      '+OK bye',
    ]);
  });
});

describe('stats', () => {
  it('takes medians of odd and even counts and ignores missing values', async () => {
    const { summary } = await load<StatsModule>('./stats.mjs');
    expect(summary([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(summary([4, 1, 3, 2, NaN])?.median).toBe(2.5);
    expect(summary([])).toBeNull();
  });
});

describe('resident master (the bench system ours-resident)', () => {
  it('starts on a free port with the bench limits, serves every session of a user from one worker, stops with every process', async () => {
    const { startResidentMaster } = await load<ResidentModule>('./resident-master.mjs');
    const { writeOurSite } = await load<SiteModule>('./site.mjs');
    const { writeMbox } = await load<CorpusModule>('./corpus.mjs');
    const { openClient } = await load<ClientModule>('./client.mjs');
    const d = tmp();
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    const site = writeOurSite(join(d, 'site'), { users: { alice: 'pw-alice' }, authd: 'sh', root });
    writeMbox(join(site.spool, 'alice'), 12, 5, 'alice@example.com');
    const m = await startResidentMaster({ name: 'master-test', siteConf: site.conf, dir: site.dir, logDir: d, extra: ['resident_worker_idle 30'] });
    const pids: number[] = [m.pid];
    try {
      // The caller's line replaces the bench's: one resident_worker_idle, the caller's value.
      const conf = readFileSync(m.conf, 'utf8');
      expect(conf.match(/^resident_worker_idle .*$/gm)).toEqual(['resident_worker_idle 30']);
      expect(conf).toContain(readFileSync(site.conf, 'utf8'));
      const served: number[] = [];
      for (let i = 0; i < 2; i++) {
        const { client } = await openClient(m.port);
        expect((await client.imap('LOGIN alice pw-alice')).ok).toBe(true);
        const sel = await client.imap('SELECT INBOX', { collect: true });
        expect(sel.lines).toContain('* 12 EXISTS');
        served.push(...(await m.sample()).map((w) => w.pid));
        expect((await client.imap('LOGOUT')).ok).toBe(true);
        client.close();
      }
      expect(served).toHaveLength(2);
      expect(served[1]).toBe(served[0]);
      expect(m.workers().map((w) => w.pid)).toEqual([served[0]]);
      expect(m.workers()[0].title).toMatch(/imapd worker/);
      expect(m.workers()[0].rssKB).toBeGreaterThan(1000);
      expect(m.treeCpuMs()).toBeGreaterThan(0);
      pids.push(served[0]);
    } finally {
      await m.stop();
    }
    const alive = (pid: number) => { try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1')); } catch { return false; } };
    for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(alive)).toEqual([]);
  });
});
