// The start-up paths of the entry-point code under real launchers, with the echo fixture as protocol:
// systemd-socket-activate --inetd --accept (fd 0/1), --accept (connection on fd 3, LISTEN_FDS) and a
// private xinetd. A listening fd 3 (Accept=no) starts the resident mode, which serves imapd and dpop only:
// test/resident/ runs it under systemd-socket-activate without --accept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSite, type Site, removeSite } from '../helpers/site.js';
import { buildEcho } from './echo-build.js';
import { lineClient, socketActivate, xinetd, type Launched } from '../e2e/launchers.js';

let echo: { file: string; cleanup: () => void };
let site: Site;
const launched: Launched[] = [];

beforeAll(async () => {
  echo = await buildEcho();
  site = makeSite();
});
afterAll(async () => {
  for (const l of launched) await l.stop();
  echo?.cleanup();
  if (site) removeSite(site.dir);
});

async function roundTrip(port: number, text: string) {
  const c = await lineClient(port);
  expect(await c.line()).toMatch(/^\* OK echo secure=false tls=false remote=127\.0\.0\.1 local=127\.0\.0\.1$/);
  c.send(`${text}\r\nQUIT\r\n`);
  expect(await c.line()).toBe(`ECHO ${text}`);
  expect(await c.line()).toBe('BYE');
  await c.closed();
}

const pidsIn = (log: string, marker: string) =>
  new Set(log.split('\n').filter((l) => l.includes(marker)).map((l) => (JSON.parse(l) as { pid: number }).pid));

describe.each(['inetd', 'accept'] as const)('systemd-socket-activate (%s)', (mode) => {
  it('serves two connections, each in its own process', async () => {
    const l = await socketActivate(mode, [process.execPath, echo.file, '-i', site.conf]);
    launched.push(l);
    const [a, b] = [`${mode}-one`, `${mode}-two`];
    await Promise.all([roundTrip(l.port, a), roundTrip(l.port, b)]);
    const log = readFileSync(join(site.logs, 'imapd.log'), 'utf8');
    // Each connection process logs its own session start; different pids prove one process each.
    const starts = log.split('\n').filter((x) => x.includes('echo session start'));
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(pidsIn(log, 'echo session start').size).toBe(starts.length);
    await l.stop();
  });
});

describe('xinetd', () => {
  it('serves connections through a private xinetd', async () => {
    const l = await xinetd(process.execPath, [echo.file, '-i', site.conf]);
    launched.push(l);
    await roundTrip(l.port, 'via xinetd');
    await roundTrip(l.port, 'again');
    await l.stop();
  });
});
