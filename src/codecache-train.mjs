// Build time (src/build.mjs): the V8 code cache of each bundle, dist/<name>.cjs.v8cache, made by running
// the bundle through a scripted session of the commands clients send most, against a throw-away site in a
// temporary directory, in a child process (src/codecache-child.cjs) that writes the cache as it exits — so
// the functions those sessions compiled lazily are in it too. Then a fresh process checks that the
// launcher accepts the new cache (same node, same V8 flags); anything else fails the build.
//
// The sessions are fixed (same mailbox, same commands), so the cache holds the same functions on every
// build; its bytes are not reproducible (V8 serialises heap state), which nothing depends on.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const USER = 'trainee';
const PASS = 'train-pass';

/** A small mbox with the shapes sessions meet: plain, multipart, encoded words, a thread, flags. */
export function trainingMbox(n) {
  const out = [];
  const day = Date.UTC(2025, 0, 1);
  for (let i = 1; i <= n; i++) {
    const date = new Date(day + i * 3_600_000 * 7);
    const id = `<m${i}@train.example>`;
    const refs = i > 1 && i % 3 !== 1 ? `References: <m${i - 1}@train.example>\nIn-Reply-To: <m${i - 1}@train.example>\n` : '';
    const subject = i % 3 === 1 ? `Topic ${Math.ceil(i / 3)}` : `Re: Topic ${Math.ceil(i / 3)}`;
    const from = i % 2 ? `"Ann Example" <ann@train.example>` : `=?UTF-8?B?w4RydGUgQsO2cg==?= <bob (home) @train.example>`;
    const head = `From ann@train.example ${date.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) (\S+) GMT$/, '$1 $3 $2 $5 $4')}\n` +
      `Return-Path: <ann@train.example>\nFrom: ${from}\nTo: ${USER}@train.example\nCc: carol@train.example\n` +
      `Subject: ${subject}\nDate: ${date.toUTCString().replace('GMT', '+0000')}\nMessage-ID: ${id}\n${refs}` +
      (i % 4 === 0 ? 'Status: RO\nX-Status: A\n' : '');
    const body = i % 2
      ? `MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nLine one of message ${i}.\n>From the archive\nLast line.\n`
      : `MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b${i}"\n\n--b${i}\n` +
        `Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=C3=9Fe ${i}\n` +
        `--b${i}\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n` +
        `${Buffer.from(`<p>Message ${i}</p>`).toString('base64')}\n--b${i}--\n`;
    out.push(head + body + '\n');
  }
  return out.join('');
}

// IMAP: the session a client runs on every poll (log in, list, open the inbox, read flags and new
// messages' metadata, mark one seen). Every function in the cache is deserialised, and held in memory, by
// every process, greeting-only ones too: a cache of everything a client may do (SORT, THREAD, SEARCH,
// ENVELOPE, COPY, EXPUNGE; 813 KB) cost +1.1 MB of peak RSS per process against +0.3 MB for this one,
// and the bench's per-connection RSS target is within 1 MB; those commands compile lazily as before.
const IMAP = [
  'CAPABILITY', `LOGIN ${USER} ${PASS}`, 'LIST "" "*"', 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))', 'SELECT INBOX', 'FETCH 1:* (FLAGS)',
  'UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)', 'STORE 1 +FLAGS (\\Seen)', 'NOOP', 'LOGOUT',
];
const POP3 = ['CAPA', `USER ${USER}`, `PASS ${PASS}`, 'STAT', 'LIST', 'UIDL', 'TOP 1 3', 'RETR 2', 'DELE 3', 'NOOP', 'QUIT'];

/** One scripted session on the child's stdin/stdout, a command after each answer; rejects on a bad one. */
function converse(child, lines, pop3) {
  return new Promise((resolve, reject) => {
    let buf = '';
    let step = -1; // waiting for the greeting
    let out = '';
    let multi = false; // inside a POP3 multi-line answer
    const fail = (why) => { child.kill('SIGKILL'); reject(new Error(`${why}\n${out.slice(-2000)}`)); };
    const send = () => {
      step++;
      if (step >= lines.length) { child.stdin.end(); return; }
      child.stdin.write(pop3 ? `${lines[step]}\r\n` : `t${step} ${lines[step]}\r\n`);
    };
    child.stdout.on('data', (d) => {
      out += d.toString('latin1');
      buf += d.toString('latin1');
      for (let i; (i = buf.indexOf('\r\n')) >= 0;) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (pop3) {
          if (multi) { if (line === '.') { multi = false; send(); } continue; }
          if (line.startsWith('-ERR')) return fail(`training: ${lines[step]}: ${line}`);
          if (!line.startsWith('+OK')) continue;
          if (step >= 0 && /^(CAPA|LIST|UIDL|TOP|RETR)\b/.test(lines[step])) multi = true;
          else send();
        } else if (step < 0 ? line.startsWith('* OK') : line.startsWith(`t${step} `)) {
          if (step >= 0 && !line.startsWith(`t${step} OK`)) return fail(`training: ${lines[step]}: ${line}`);
          send();
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, sig) => (code === 0 && step >= lines.length ? resolve() : reject(new Error(`training session ended: exit ${code ?? sig}\n${out.slice(-2000)}`))));
  });
}

/**
 * Train dist/<name>.cjs.v8cache for name in imapd, dpop, dmailctl (dist/<name>-launch.cjs and the bundle
 * must exist). Returns the cache's size. `dist` and `session` (the IMAP or POP3 command lines) are for
 * experiments (test/bench/codecache-measure.mjs).
 */
export async function trainCodeCache(root, name, { dist = join(root, 'dist'), session } = {}) {
  const launch = join(dist, `${name}-launch.cjs`);
  const cache = join(dist, `${name}.cjs.v8cache`);
  const work = mkdtempSync(join(tmpdir(), 'dmail-train-'));
  // The child runs with node's default V8 flags, as bin/<name> does (a cache is bound to the flags).
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', HOME: work };
  const tmp = join(work, 'cache');
  try {
    for (const d of ['spool', 'log', 'work', 'index']) mkdirSync(join(work, d));
    writeFileSync(join(work, 'spool', USER), trainingMbox(12));
    const authd = join(work, 'authd.sh');
    writeFileSync(authd, `#!/bin/sh\nwhile read -r cmd user pass rest; do\n  case "$cmd $user $pass" in\n` +
      `    "check ${USER} ${PASS}"|"lookup ${USER} "*) echo "+OK ${USER} ${join(work, 'spool', USER)} 0" ;;\n` +
      `    exit*|quit*) echo "+OK bye"; exit 0 ;;\n    *) echo "-ERR ${USER} password wrong or not a valid user" ;;\n  esac\ndone\n`);
    chmodSync(authd, 0o755);
    const conf = join(work, 'dmail.conf');
    writeFileSync(conf, [`drop_path ${join(work, 'spool')}`, `log_path ${join(work, 'log')}`, `work_path ${join(work, 'work')}`,
      `index_path ${join(work, 'index')}`, 'log_level info', 'authent_method external', `authent_process /bin/sh ${authd}`,
      'imapd_become_user false', 'allow_root_login true', 'auth_fail_delay 0', ''].join('\n'));
    const child = (args) => spawn(process.execPath, [join(root, 'src/codecache-child.cjs'), launch, tmp, ...args],
      { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'] });
    if (name === 'dmailctl') {
      // dmailctl runs per connection as the shipped auth module (`dmailctl authd`): train that.
      const db = join(work, 'authd.db');
      const set = spawnSync(process.execPath, [join(dist, 'dmailctl.cjs'), 'authd', '--db', db, 'set', USER, PASS], { env, encoding: 'utf8' });
      if (set.status !== 0) throw new Error(`training: dmailctl authd set: ${set.stderr}`);
      const c = child(['authd', '--db', db]);
      let out = '';
      c.stdout.on('data', (d) => { out += d; });
      c.stdin.end(`check ${USER} ${PASS}\nlookup ${USER}\ncheck ${USER} wrong\nexit\n`);
      const code = await new Promise((r) => c.on('exit', r));
      if (code !== 0 || !out.startsWith('+OK')) throw new Error(`training: dmailctl authd: exit ${code}: ${out}`);
    } else {
      const c = child(['-c', conf]);
      let err = '';
      c.stderr.on('data', (d) => { err += d; });
      await converse(c, session ?? (name === 'imapd' ? IMAP : POP3), name === 'dpop').catch((e) => {
        let log = '';
        try { log = readFileSync(join(work, 'log', `${name}.log`), 'utf8').slice(-4000); } catch { /* none written */ }
        throw new Error(`${e.message}\n${err}\nserver log:\n${log}`);
      });
    }
    // Into dist/ under a temporary name first (/tmp may be another file system), then renamed.
    const part = `${cache}.${process.pid}.part`;
    copyFileSync(tmp, part);
    chmodSync(part, 0o644);
    renameSync(part, cache);
    // The launcher must accept it in a fresh process, as a connection's process will. V8 refusing it
    // (other flags than the programs run with) fails the build; a checkout in a directory the launcher
    // does not trust only gets a warning: the programs run there, without the cache.
    const check = spawnSync(process.execPath, ['-e', `const l=require(${JSON.stringify(launch)});process.stdout.write(JSON.stringify(l.verify(${JSON.stringify(join(dist, `${name}.cjs`))}, ${JSON.stringify(cache)})))`],
      { env, encoding: 'utf8' });
    const note = check.status === 0 ? JSON.parse(check.stdout) : { used: false, reason: check.stderr };
    if (!note.used) {
      if (/^(untrusted directory|the cache (belongs|can be written))/.test(note.reason)) {
        console.error(`build: warning: the ${name} code cache will not be used here: ${note.reason}`);
      } else {
        rmSync(cache, { force: true });
        throw new Error(`training: the new ${name} code cache is not accepted: ${note.reason}`);
      }
    }
    return note.size;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
