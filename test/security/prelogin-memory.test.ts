// Issue 13, weakness "pre-login memory": a client that pipelines 200,000 NOOP/CAPABILITY (IMAP) or
// CAPA/NOOP (POP3) and never reads its answers must not make the server process grow without bound.
// The server has to stop reading input while its output is backed up. Measured: the child's peak RSS
// (VmHWM in /proc) against a generous bound, never a timing.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { inetdConnect, type Client } from '../helpers/inetd.js';
import { BIN, makeSite, type Site } from '../helpers/site.js';

const sites: Site[] = [];
afterAll(() => { for (const s of sites) rmSync(s.dir, { recursive: true, force: true }); });

/** Starts `program` as inetd would, under GNU time, which reports the server's peak RSS when it exits
 *  (exact, whatever the moment the peak happened). */
async function start(program: 'imapd' | 'dpop', conf: string): Promise<Client> {
  return inetdConnect('/usr/bin/time', ['-f', 'maxrss=%M', BIN[program], '-i', conf]);
}

/** Hands `count` copies of `cmd` to the socket without ever reading, waits for the server to exit
 *  (idle timeout or output cap) and returns its peak RSS in MB and the bytes it accepted. */
async function flood(c: Client, cmd: string, count: number): Promise<{ peak: number; accepted: number }> {
  c.socket.pause(); // never read a byte of the answers
  c.socket.on('error', () => {});
  const batch = Buffer.from(cmd.repeat(1000), 'latin1');
  for (let i = 0; i < count / 1000; i++) c.socket.write(batch);
  await c.exited();
  const accepted = c.socket.bytesWritten - c.socket.writableLength;
  c.close();
  const m = /maxrss=(\d+)/.exec(c.stderr());
  if (!m) throw new Error(`no maxrss from time: ${c.stderr()}`);
  return { peak: Number(m[1]) / 1024, accepted };
}

const LIMIT_MB = 80; // node alone is ~48 MB, ~60 under this attack; before the fix it reached 95-140 MB

describe.each([
  ['imapd', 'a NOOP\r\n'],
  ['imapd', 'a CAPABILITY\r\n'],
  ['dpop', 'CAPA\r\n'],
  ['dpop', 'NOOP\r\n'],
] as const)('%s flooded with %j by a client that never reads', (program, cmd) => {
  it('stays small, stops reading, and logs why the client was dropped', async () => {
    const site = makeSite({ imapd_login_timeout: 2, pop_timeout: 2 });
    sites.push(site);
    const c = await start(program, site.conf);
    await c.line(); // greeting
    const { peak, accepted } = await flood(c, cmd, 200_000);
    expect(peak, `peak RSS ${peak.toFixed(1)} MB; ${accepted} bytes accepted`).toBeLessThan(LIMIT_MB);
    const log = join(site.logs, `${program}.log`);
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    expect(text).toMatch(/client connection ended|connection closed/);
  });
});
