// Dovecot's own imap binary run pre-authenticated on a pipe (no daemon, no auth), as an unprivileged
// user, on files of a test: lets a test make Dovecot write (or read) a mailbox and compare with ours.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DOVECOT_IMAP = '/usr/lib/dovecot/imap';

/** Why Dovecot cannot be used here, or null when it can (installed, and we can switch to `nobody`). */
export function dovecotUnavailable(): string | null {
  if (!existsSync(DOVECOT_IMAP)) return 'dovecot-imapd not installed';
  if (process.getuid?.() !== 0) return 'needs root to run Dovecot as nobody';
  if (spawnSync('id', ['nobody']).status !== 0) return 'no user nobody';
  return null;
}

function chownTree(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  if (statSync(p).isDirectory()) for (const n of readdirSync(p)) chownTree(join(p, n), uid, gid);
}

/**
 * Run IMAP commands through Dovecot with `mail_location` (paths under `dir`, all made owned by nobody
 * first and given back to root after). `commands` are sent one at a time, each after the previous
 * tagged answer; a command given as [text, literal] is sent as `text {n}` + literal. Returns all output.
 */
export async function dovecotImap(dir: string, mailLocation: string, commands: (string | [string, string])[], extra: string[] = []): Promise<string> {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  mkdirSync(join(dir, 'dovecot-home'), { recursive: true });
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, [
    `base_dir = ${dir}/dovecot-run`, `state_dir = ${dir}/dovecot-state`, `log_path = ${dir}/dovecot.log`,
    `mail_location = ${mailLocation}`, 'ssl = no', ...extra, '',
  ].join('\n'));
  chownTree(dir, uid, gid);
  // Through `cat` on both sides: Dovecot refuses a socket on stdin ("must not be started from inetd"),
  // and Node's 'pipe' stdio is a socket pair.
  const child = spawn('sh', ['-c', `cat | ${DOVECOT_IMAP} -c "$1" -o mail_uid=${uid} -o mail_gid=${gid} 2>&1 | cat`, 'sh', conf], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', USER: 'bob', HOME: join(dir, 'dovecot-home') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let waiter: (() => void) | null = null;
  child.stdout!.on('data', (d: Buffer) => { out += d.toString('latin1'); waiter?.(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  const exited = new Promise<void>((r) => child.on('exit', () => { waiter?.(); r(); }));
  const waitFor = async (re: RegExp) => {
    for (let i = 0; !re.test(out); i++) {
      if (child.exitCode !== null) throw new Error(`dovecot exited: ${out.slice(-2000)}`);
      await new Promise<void>((r) => { waiter = r; setTimeout(r, 200).unref(); });
    }
  };
  try {
    let n = 0;
    for (const c of commands) {
      const tag = `d${++n}`;
      if (typeof c === 'string') child.stdin!.write(`${tag} ${c}\r\n`);
      else {
        child.stdin!.write(`${tag} ${c[0]} {${Buffer.byteLength(c[1])}}\r\n`);
        await waitFor(/\r\n\+ [^\r\n]*\r\n$/);
        child.stdin!.write(`${c[1]}\r\n`);
      }
      await waitFor(new RegExp(`(^|\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
    }
    child.stdin!.end();
    await exited;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    chownTree(dir, 0, 0);
  }
  return out;
}
