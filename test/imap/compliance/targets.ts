// The servers the compliance scripts run on: ours (the real bin/imapd, one process per connection as
// inetd starts it, logging in as bob), and Dovecot 2.3's imap binary for reference (one pre-authenticated
// process per connection on a maildir owned by `nobody`, as test/store/dovecot-preauth.ts runs it).
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inetdConnect } from '../../helpers/inetd.js';
import { BIN, type Site } from '../../helpers/site.js';
import { DOVECOT_IMAP } from '../../store/dovecot-preauth.js';
import { streamWire, type Target, type Wire } from './runner.js';

export interface ClosableTarget extends Target {
  /** Wait until every server process started so far has exited. */
  drain(): Promise<void>;
}

export function ourTarget(site: Site, user = 'bob', pass = 'secret'): ClosableTarget {
  const exits: Promise<unknown>[] = [];
  return {
    name: 'dmail imapd',
    async connect(): Promise<Wire> {
      const c = await inetdConnect(BIN.imapd, ['-i', site.conf]);
      exits.push(c.exited());
      const greeting = await c.line(15_000);
      if (!greeting.startsWith('* OK')) throw new Error(`greeting: ${greeting}`);
      c.send(`l LOGIN ${user} ${pass}\r\n`);
      const lines = await c.until('l ', 15_000);
      if (!lines[lines.length - 1]!.startsWith('l OK')) throw new Error(`LOGIN: ${lines.join(' | ')}`);
      return c;
    },
    async drain() { await Promise.all(exits.splice(0)); },
  };
}

function chownTree(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  if (statSync(p).isDirectory()) for (const n of readdirSync(p)) chownTree(join(p, n), uid, gid);
}

/** Dovecot 2.3's imap, pre-authenticated as bob, one process per connection on dir/Maildir. */
export function dovecotTarget(dir: string): ClosableTarget {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  for (const d of ['Maildir', 'home', 'run', 'state']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, [
    `base_dir = ${dir}/run`, `state_dir = ${dir}/state`, `log_path = ${dir}/dovecot.log`,
    `mail_location = maildir:${dir}/Maildir`, 'ssl = no',
    'namespace inbox {', '  inbox = yes', '  separator = /', '}', '',
  ].join('\n'));
  chownTree(dir, uid, gid);
  const exits: Promise<unknown>[] = [];
  return {
    name: 'Dovecot 2.3',
    async connect(): Promise<Wire> {
      // Through `cat` on both sides: Dovecot refuses a socket on stdin ("must not be started from inetd").
      const child = spawn('sh', ['-c', `cat | ${DOVECOT_IMAP} -c "$1" -o mail_uid=${uid} -o mail_gid=${gid} | cat`, 'sh', conf], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', USER: 'bob', HOME: join(dir, 'home') },
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      exits.push(new Promise((r) => child.on('exit', r)));
      const w = streamWire(child.stdout!, (d) => child.stdin!.write(d), () => child.stdin!.end());
      const greeting = await w.line(15_000);
      if (!greeting.startsWith('* PREAUTH')) throw new Error(`greeting: ${greeting}`);
      return w;
    },
    async drain() { await Promise.all(exits.splice(0)); },
  };
}
