// Issue 13, weakness "pre-login memory": a client that pipelines 200,000 NOOP/CAPABILITY (IMAP) or
// CAPA/NOOP (POP3) and never reads its answers must not make the server process grow without bound.
// The server has to stop reading input while its output is backed up. Measured: the child's peak RSS
// (VmHWM in /proc) against a generous bound, never a timing.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv } from '../helpers/inetd.js';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';

const sites: Site[] = [];
afterAll(() => { for (const s of sites) removeSite(s.dir); });

interface Flooded { peak: number; accepted: number }

/**
 * Starts `program` as inetd would, on a Unix stream socket (its small kernel buffers make a client that
 * does not read show at once, instead of after the several MB a loopback TCP socket absorbs), under GNU
 * time, which reports the server's peak RSS when it exits (exact, whatever the moment of the peak).
 * Reads the greeting, then sends `count` copies of `cmd` without reading another byte, and waits for the
 * server to end the connection (idle timeout, or the output cap).
 */
async function flood(program: 'imapd' | 'dpop', conf: string, cmd: string, count: number): Promise<Flooded> {
  const dir = mkdtempSync(join(tmpdir(), 'dmail-flood-'));
  const path = join(dir, 'sock');
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect(path);
  const serverSide = await accepted;
  server.close();
  const child = spawn('/usr/bin/time', ['-f', 'maxrss=%M', BIN[program], '-i', conf], { stdio: [serverSide, serverSide, 'pipe'], env: cleanEnv() });
  serverSide.destroy();
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  client.on('error', () => {});
  // What the server took: bytes handed to the kernel, sampled while it runs (once it is gone our socket
  // errors out and forgets its unsent buffer).
  let taken = 0;
  const sample = setInterval(() => { if (!client.destroyed) taken = client.bytesWritten - client.writableLength; }, 100);
  // The greeting, then never read again.
  await new Promise<void>((r) => client.once('data', () => { client.pause(); r(); }));
  const batch = Buffer.from(cmd.repeat(1000), 'latin1');
  for (let i = 0; i < count / 1000; i++) client.write(batch);
  await exited;
  clearInterval(sample);
  client.destroy();
  rmSync(dir, { recursive: true, force: true });
  const m = /maxrss=(\d+)/.exec(stderr);
  if (!m) throw new Error(`no maxrss from time: ${stderr}`);
  return { peak: Number(m[1]) / 1024, accepted: taken };
}

const LIMIT_MB = 80; // node alone is ~48 MB, ~60 under this attack; before the fix it reached 123-134 MB

describe.each([
  ['imapd', 'a NOOP\r\n'],
  ['imapd', 'a CAPABILITY\r\n'],
  ['dpop', 'CAPA\r\n'],
  ['dpop', 'NOOP\r\n'],
] as const)('%s flooded with %j by a client that never reads', (program, cmd) => {
  it('stays small, stops reading, and logs why the client was dropped', async () => {
    const site = makeSite({ imapd_login_timeout: 2, pop_timeout: 2 });
    sites.push(site);
    const { peak, accepted } = await flood(program, site.conf, cmd, 200_000);
    expect(peak, `peak RSS ${peak.toFixed(1)} MB; ${accepted} bytes accepted`).toBeLessThan(LIMIT_MB);
    // It stopped taking input once its answers backed up: most of the flood was never read.
    expect(accepted).toBeLessThan((200_000 * cmd.length) / 2);
    const log = join(site.logs, `${program}.log`);
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    expect(text).toMatch(/client connection ended|connection closed/);
  });
});
