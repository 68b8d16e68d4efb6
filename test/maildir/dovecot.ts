// A private Dovecot 2.3 (the Debian package) for interoperability tests: its own config, base_dir and
// log in a temp dir, IMAP on a free loopback port, passwd-file users whose mail is a maildir we name.
// Dovecot refuses to deliver mail as root, so mail belongs to the unprivileged user `dmailtest`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export const MAIL_USER = 'dmailtest';

export interface DovecotUser {
  name: string;
  pass: string;
  maildir: string;
}

export interface Dovecot {
  port: number;
  uid: number;
  gid: number;
  stop(): Promise<void>;
  log(): string;
}

/** The unprivileged mail user (created when missing). */
export function ensureMailUser(): { uid: number; gid: number } {
  const lookup = () => {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${MAIL_USER}:`));
    return line ? { uid: Number(line.split(':')[2]), gid: Number(line.split(':')[3]) } : undefined;
  };
  let ids = lookup();
  if (!ids) {
    execFileSync('useradd', ['-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', MAIL_USER]);
    ids = lookup();
  }
  if (!ids) throw new Error(`cannot create user ${MAIL_USER}`);
  return ids;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('data', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  throw new Error(`dovecot did not start (exit ${child.exitCode}): ${log}`);
}

/** Start Dovecot in the foreground (so we own its pid) with `users`. `dir` must be traversable by all. */
export async function startDovecot(dir: string, users: DovecotUser[]): Promise<Dovecot> {
  const { uid, gid } = ensureMailUser();
  const port = await freePort();
  const base = join(dir, 'run');
  mkdirSync(join(base, 'state'), { recursive: true });
  chmodSync(dir, 0o755);
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, users.map((u) =>
    `${u.name}:{PLAIN}${u.pass}:${uid}:${gid}::${u.maildir}::userdb_mail=maildir:${u.maildir}\n`).join(''));
  chmodSync(passwd, 0o644);
  const logFile = join(dir, 'dovecot.log');
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, `
base_dir = ${base}
state_dir = ${base}/state
instance_name = dmail-test-${port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = ${logFile}
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${passwd}
}
userdb {
  driver = passwd-file
  args = ${passwd}
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`);
  const child = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: 'ignore' });
  await waitForPort(port, child, logFile);
  return {
    port, uid, gid,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** Give the mail files to the mail user (our store ran as root in the test process). */
export function chownMail(path: string, d: Dovecot): void {
  execFileSync('chown', ['-R', `${d.uid}:${d.gid}`, path]);
}
