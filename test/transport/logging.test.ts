// The logger (fields, levels, redaction, max_loglen), rotation shared by many processes at once, and the
// live-session records behind `dmailctl sessions`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSettings } from '../../src/config/parse.js';
import type { Settings } from '../../src/config/settings.js';
import { createLogger, redact } from '../../src/log/logger.js';
import { listSessions, recordSession } from '../../src/log/sessions.js';
import { cleanEnv } from '../helpers/inetd.js';
import { buildFixture } from './echo-build.js';

const dir = mkdtempSync(join(tmpdir(), 'dmail-log-'));
let writer: { file: string; cleanup: () => void };
beforeAll(async () => { writer = await buildFixture('log-writer'); });
afterAll(() => { writer?.cleanup(); rmSync(dir, { recursive: true, force: true }); });

let n = 0;
function settings(extra: Partial<Settings> = {}): Settings {
  const logs = join(dir, `logs${++n}`);
  return { ...defaultSettings(), work_path: join(dir, `work${n}`), log_path: logs, ...extra };
}
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []);

describe('logger', () => {
  it('writes JSON lines with pid, program, protocol, client and (after login) user', () => {
    const s = settings();
    const log = createLogger(s, 'imapd', { protocol: 'imap', remote: '192.0.2.9' });
    log.info('connected');
    log.child({ user: 'alice' }).info({ mailbox: 'INBOX' }, 'select');
    const out = lines(join(s.log_path!, 'imapd.log'));
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ level: 30, pid: process.pid, program: 'imapd', protocol: 'imap', remote: '192.0.2.9', msg: 'connected' });
    expect(out[1]).toMatchObject({ user: 'alice', mailbox: 'INBOX', msg: 'select' });
    expect(typeof out[0].time).toBe('string');
  });

  it('falls back to work_path when log_path is unset', () => {
    const s = settings();
    s.log_path = undefined;
    createLogger(s, 'dpop').info('hello');
    expect(lines(join(s.work_path, 'dpop.log'))[0]).toMatchObject({ msg: 'hello', program: 'dpop' });
  });

  it('never writes fields named pass/password/secret, at any depth or in bindings', () => {
    const s = settings();
    const log = createLogger(s, 'dpop', { protocol: 'pop3', secret: 'bind-secret' });
    log.info({ user: 'bob', pass: 'p1', nested: { password: 'p2', list: [{ Secret: 'p3' }] } }, 'login');
    log.child({ password: 'p4' }).warn('child');
    const text = readFileSync(join(s.log_path!, 'dpop.log'), 'utf8');
    for (const p of ['bind-secret', 'p1', 'p2', 'p3', 'p4']) expect(text).not.toContain(`"${p}"`);
    expect(text).toContain('"user":"bob"');
    expect(redact({ a: 1 })).toEqual({ a: 1 });
  });

  it('scrubs credentials from raw command lines but keeps ordinary messages', () => {
    const s = settings();
    const log = createLogger(s, 'imapd');
    log.info({ line: 'a1 LOGIN bob hunter2' }, 'a2 login "bob smith" "hunter 3"');
    log.info('PASS hunter4');
    log.info({ cmd: 'APOP bob 0123456789abcdef' }, 'x AUTHENTICATE PLAIN AGJvYgBodW50ZXI1');
    log.info('AUTH PLAIN AGJvYgBodW50ZXI2');
    log.info('login failed for bob');
    const text = readFileSync(join(s.log_path!, 'imapd.log'), 'utf8');
    for (const secret of ['hunter2', 'hunter 3', 'hunter4', '0123456789abcdef', 'AGJvYgBodW50ZXI1', 'AGJvYgBodW50ZXI2']) expect(text).not.toContain(secret);
    expect(text).toContain('"line":"a1 LOGIN bob [redacted]"');
    expect(text).toContain('"msg":"a2 login \\"bob smith\\" [redacted]"');
    expect(text).toContain('"msg":"PASS [redacted]"');
    expect(text).toContain('"msg":"login failed for bob"');
  });

  it('honours log_level: error keeps warnings and errors only; debug shows everything', () => {
    const quiet = settings({ log_level: 'error' });
    const q = createLogger(quiet, 'imapd');
    q.debug('d'); q.info('i'); q.warn('w'); q.error('e');
    expect(lines(join(quiet.log_path!, 'imapd.log')).map((l) => l.msg)).toEqual(['w', 'e']);
    const loud = settings({ log_level: 'debug' });
    const l = createLogger(loud, 'imapd');
    l.debug('d'); l.info('i');
    expect(lines(join(loud.log_path!, 'imapd.log')).map((x) => x.msg)).toEqual(['d', 'i']);
  });

  it('cuts messages longer than max_loglen', () => {
    const s = settings({ max_loglen: 50 });
    createLogger(s, 'imapd').info('y'.repeat(5000));
    const msg = lines(join(s.log_path!, 'imapd.log'))[0].msg as string;
    expect(msg).toBe('y'.repeat(50) + '...');
  });

  it('rotates at max_log_size, keeping rotated_logs old files', () => {
    const s = settings({ max_log_size: 2000, rotated_logs: 3 });
    const log = createLogger(s, 'imapd');
    for (let i = 0; i < 200; i++) log.info({ i }, 'z'.repeat(100));
    const files = readdirSync(s.log_path!).filter((f) => f.startsWith('imapd.log')).sort();
    expect(files).toEqual(['imapd.log', 'imapd.log.1', 'imapd.log.2', 'imapd.log.3']);
    for (const f of files.slice(1)) expect(readFileSync(join(s.log_path!, f)).length).toBeLessThan(2000 + 400);
    // The newest lines are in imapd.log, the ones before them in .1: nothing in between is lost.
    const current = lines(join(s.log_path!, 'imapd.log')).map((l) => l.i as number);
    const previous = lines(join(s.log_path!, 'imapd.log.1')).map((l) => l.i as number);
    expect(current[current.length - 1]).toBe(199);
    expect(current[0]).toBe(previous[previous.length - 1] + 1);
  });

  it('a file renamed away by another process is noticed and reopened', async () => {
    const s = settings();
    const log = createLogger(s, 'dpop');
    log.info('before');
    const file = join(s.log_path!, 'dpop.log');
    renameSync(file, `${file}.old`);
    await new Promise((r) => setTimeout(r, 1100));
    log.info('after');
    expect(lines(file).map((l) => l.msg)).toEqual(['after']);
    expect(lines(`${file}.old`).map((l) => l.msg)).toEqual(['before']);
  });
});

describe('rotation with many processes at once', () => {
  it('loses no line while a dozen processes log and rotate together', async () => {
    const logs = join(dir, 'many');
    const conf = join(dir, 'many.conf');
    writeFileSync(conf, `work_path ${logs}\nlog_path ${logs}\nmax_log_size 20000\nrotated_logs 1000\n`);
    const procs = 12;
    const each = 150;
    await Promise.all(Array.from({ length: procs }, (_, p) => new Promise<void>((res, rej) => {
      const c = spawn(process.execPath, [writer.file, conf, `p${p}`, String(each)], { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() });
      let err = '';
      c.stderr!.on('data', (d) => (err += d));
      c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`writer exited ${code}: ${err}`))));
    })));
    const files = readdirSync(logs).filter((f) => /^dpop\.log(\.\d+)?$/.test(f));
    expect(files.length).toBeGreaterThan(5); // it did rotate, many times
    const seen = new Set<string>();
    for (const f of files) for (const l of lines(join(logs, f))) seen.add(`${l.tag}:${l.i}`);
    expect(seen.size).toBe(procs * each);
    expect(readdirSync(logs).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });
});

describe('sessions', () => {
  it('records, lists and removes a session; dead pids are skipped and cleaned', async () => {
    const work = join(dir, 'sess');
    const record = recordSession(work, { pid: process.pid, program: 'imapd', user: 'alice', remoteAddress: '192.0.2.5', since: '2024-01-01T00:00:00.000Z' });
    // A record left behind by a process killed with -9: a pid that no longer exists.
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = dead.pid!;
    await new Promise((r) => dead.on('exit', r));
    const mine = join(work, 'sessions', String(process.geteuid!()));
    writeFileSync(join(mine, `${deadPid}.json`), JSON.stringify({ pid: deadPid, program: 'dpop', user: 'ghost', remoteAddress: 'x', since: '2023' }));
    // A record whose pid lives but belongs to a process started later (pid reuse) is stale too.
    const reused = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    writeFileSync(join(mine, `${reused.pid}.json`), JSON.stringify({ pid: reused.pid, program: 'imapd', user: 'old', remoteAddress: 'x', since: '2023', start: '1' }));
    const list = listSessions(work);
    reused.kill();
    expect(existsSync(join(mine, `${reused.pid}.json`))).toBe(false);
    expect(list).toEqual([{ pid: process.pid, program: 'imapd', user: 'alice', remoteAddress: '192.0.2.5', since: '2024-01-01T00:00:00.000Z' }]);
    expect(existsSync(join(mine, `${deadPid}.json`))).toBe(false);
    expect(statSync(join(work, 'sessions')).mode & 0o7777).toBe(0o755);
    record.remove();
    expect(listSessions(work)).toEqual([]);
  });

  it('a process removes its record when it exits', async () => {
    const work = join(dir, 'sess2');
    const conf = join(dir, 'sess2.conf');
    writeFileSync(conf, `work_path ${work}\n`);
    const c = spawn(process.execPath, [writer.file, conf, 'carol', '0', 'session'], { stdio: ['ignore', 'pipe', 'inherit'], env: cleanEnv() });
    await new Promise<void>((r) => c.stdout!.once('data', () => r()));
    expect(listSessions(work).map((x) => x.user)).toEqual(['carol']);
    c.kill('SIGTERM');
    await new Promise((r) => c.on('exit', r));
    expect(listSessions(work)).toEqual([]);
    expect(readdirSync(join(work, 'sessions', String(process.geteuid!())))).toEqual([]);
  });
});
