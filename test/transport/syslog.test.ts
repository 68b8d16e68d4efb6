// Logs that reach someone (issue 15): with `log_to syslog|both`, and when the log file cannot be opened,
// imapd and dpop log through syslog(3). The test gives the server a private /dev/log: a mount namespace
// (unshare, root only) whose /dev holds the usual device nodes and, as `log`, a datagram socket that a
// small Python listener reads — the same socket rsyslog or journald would own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inetdConnect } from '../helpers/inetd.js';
import { BIN, makeSite, mbox, simpleMessage, type Site, removeSite } from '../helpers/site.js';

const isRoot = process.getuid?.() === 0 && spawnSync('unshare', ['--mount', 'true']).status === 0;

// $1: directory to become /dev, $2: the syslog socket, then the command.
const PRIVATE_DEV = `set -e
D=$1; SOCK=$2; shift 2
for n in null zero random urandom full; do touch "$D/$n"; mount --bind "/dev/$n" "$D/$n"; done
for f in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do ln -s "\${f#*:}" "$D/\${f%%:*}"; done
touch "$D/log"; mount --bind "$SOCK" "$D/log"
mount --rbind "$D" /dev
exec "$@"`;

const LISTENER = `import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
print("ready", flush=True)
while True:
    d = s.recv(65536)
    sys.stdout.write(d.decode("utf-8", "replace").replace("\\n", " ") + "\\n"); sys.stdout.flush()`;

let dir: string;
let listener: ChildProcess;
let heard = '';
const sites: Site[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  dir = mkdtempSync(join(tmpdir(), 'dmail-syslog-'));
  writeFileSync(join(dir, 'listen.py'), LISTENER);
  listener = spawn('python3', [join(dir, 'listen.py'), join(dir, 'log.sock')], { stdio: ['ignore', 'pipe', 'inherit'] });
  listener.stdout!.on('data', (d) => (heard += d.toString()));
  for (let i = 0; i < 200 && !heard.startsWith('ready'); i++) await new Promise((r) => setTimeout(r, 25));
  expect(heard.startsWith('ready')).toBe(true);
});
afterAll(() => {
  listener?.kill();
  for (const s of sites) removeSite(s.dir);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function site(extra: Record<string, string | number | boolean>): Site {
  const s = makeSite(extra);
  sites.push(s);
  s.addUser('bob', { pass: 'n0t-in-any-log' });
  writeFileSync(s.drop('bob'), mbox([{ text: simpleMessage(1) }]));
  return s;
}

/** One IMAP session (LOGIN, SELECT, LOGOUT) of bin/imapd under the private /dev; what syslog heard. */
async function imapSessionHeard(s: Site): Promise<string[]> {
  const dev = mkdtempSync(join(dir, 'dev-'));
  const from = heard.length;
  const c = await inetdConnect('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', PRIVATE_DEV, 'sh', dev, join(dir, 'log.sock'), BIN.imapd, '-i', s.conf]);
  expect(await c.line()).toMatch(/^\* OK/);
  c.send('a LOGIN bob n0t-in-any-log\r\n');
  expect((await c.until('a ')).at(-1)).toMatch(/^a OK/);
  c.send('b SELECT INBOX\r\nc LOGOUT\r\n');
  await c.until('c ');
  await c.exited();
  await new Promise((r) => setTimeout(r, 100)); // the listener's last datagrams
  return heard.slice(from).split('\n').filter((l) => l.trim() !== '');
}

describe.skipIf(!isRoot)('syslog', () => {
  it('takes over, with the reason first, when the log file cannot be opened (log_to file)', async () => {
    const s = site({});
    const blocker = join(s.dir, 'not-a-dir');
    writeFileSync(blocker, '');
    s.setConfig({ log_path: join(blocker, 'logs') });
    const lines = await imapSessionHeard(s);
    // <20> = facility mail (2 * 8) + warning (4); then the session's own lines at info (<22>).
    expect(lines[0]).toMatch(/^<20>.*imapd\[\d+\]: cannot open log file .*not-a-dir\/logs\/imapd\.log \(ENOTDIR\); logging to syslog instead/);
    expect(lines.some((l) => /^<22>.*imapd\[\d+\]: .*bob/.test(l))).toBe(true);
    expect(lines.join('\n')).not.toContain('n0t-in-any-log');
  });

  it('log_to both writes the file and syslog; syslog_facility chooses the facility', async () => {
    const s = site({ log_to: 'both', syslog_facility: 'local3' });
    const lines = await imapSessionHeard(s);
    // local3 = 19 * 8 = 152; info = 6.
    const bobLines = lines.filter((l) => /^<158>.*imapd\[\d+\]: .*bob/.test(l));
    expect(bobLines.length).toBeGreaterThan(0);
    const file = join(s.logs, 'imapd.log');
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('"bob"');
    expect(lines.join('\n') + readFileSync(file, 'utf8')).not.toContain('n0t-in-any-log');
  });

  it('log_to syslog writes no file', async () => {
    const s = site({ log_to: 'syslog' });
    mkdirSync(s.logs, { recursive: true });
    const lines = await imapSessionHeard(s);
    expect(lines.some((l) => /^<22>.*imapd\[\d+\]: /.test(l))).toBe(true);
    expect(existsSync(join(s.logs, 'imapd.log'))).toBe(false);
  });
});
