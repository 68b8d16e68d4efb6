// Issue 16 in `npm run bench`: what each operation costs when the spool is on the shared GlusterFS volume
// (test/multihost/rig.ts, one host mounting it through its own network namespace) against the same
// operation on local disk, both through our per-connection imapd (systemd-socket-activate --inetd) and
// procmail. The bounded several-hosts workload itself is test/multihost/gluster.test.ts.
// Needs root, /dev/fuse, glusterd and ip netns; otherwise the section says why it is skipped.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { openClient } from './client.mjs';
import { startPerConnection } from './servers.mjs';
import { summary, fmtNum, table } from './stats.mjs';

const now = () => performance.now();

function message(k) {
  return `From: Bench <bench@example.com>\r\nTo: u@example.com\r\nSubject: bench ${k}\r\nDate: Tue, 02 Jan 2024 03:04:05 +0000\r\nMessage-ID: <b${k}@example.com>\r\n\r\n${'body line\r\n'.repeat(20)}`;
}

function mbox(n) {
  let s = '';
  for (let k = 1; k <= n; k++) s += `From bench@example.com Tue Jan  2 03:04:05 2024\n${message(k).replace(/\r\n/g, '\n')}\n`;
  return s;
}

export async function multihostBench({ ROOT, BIN, quick, say, logDir }) {
  const rigFile = join(tmpdir(), `dmail-rig-${process.pid}.mjs`);
  await build({ entryPoints: [join(ROOT, 'test/multihost/rig.ts')], bundle: true, platform: 'node', format: 'esm', outfile: rigFile, logLevel: 'silent' });
  const { startRig, haveGluster } = await import(rigFile);
  rmSync(rigFile, { force: true });
  if (!haveGluster) return { skipped: 'needs root, /dev/fuse, glusterd (glusterfs-server) and ip netns' };
  say('multihost: starting the GlusterFS rig (about 30 s)');
  const rig = startRig(1);
  const local = mkdtempSync(join(tmpdir(), 'dmail-mh-bench-'));
  const servers = [];
  try {
    const n = quick ? 300 : 1000;
    const runs = quick ? 5 : 15;
    const places = {};
    for (const [name, root] of [['local', join(local, 'disk')], ['shared', rig.mount(1)]]) {
      const spool = join(root, 'spool');
      mkdirSync(spool, { recursive: true });
      const cfg = join(local, `${name}.conf`);
      const users = join(local, `${name}-users.json`);
      writeFileSync(users, JSON.stringify({ u: { pass: 'pw', drop: join(spool, 'u') } }));
      writeFileSync(cfg, [`drop_path ${spool}`, `log_path ${join(local, name + '-log')}`, `work_path ${join(local, name + '-work')}`,
        'log_level error', 'authent_method external', `authent_process ${join(ROOT, 'test/helpers/static-authd.mjs')} ${users}`,
        'imapd_become_user false', 'allow_root_login true', 'auth_fail_delay 0', `lock_id ${name}`].join('\n') + '\n');
      writeFileSync(join(spool, 'u'), mbox(n));
      const prefix = name === 'shared' ? rig.onHost(1) : [];
      const h = await startPerConnection(`imapd-${name}`, [...prefix, BIN.imapd, '-i', cfg], { logFile: join(logDir, `multihost-${name}.log`), cwd: ROOT });
      servers.push(h);
      places[name] = { spool, prefix, port: h.port, rc: join(local, `${name}.procmailrc`) };
      writeFileSync(places[name].rc, `LOGFILE=/dev/null\nVERBOSE=off\n:0:\n${join(spool, 'u')}\n`);
    }
    const ops = [
      [`session: LOGIN, SELECT, FETCH 1:* (FLAGS) of ${n}, LOGOUT`, async (c) => { await c.imap('SELECT INBOX'); await c.imap('FETCH 1:* (FLAGS)'); }],
      ['APPEND of one 1 KB message', async (c, k) => { const m = message(90000 + k); return timed(c, `APPEND INBOX {${m.length}+}\r\n${m}`); }],
      ['STORE +FLAGS on one message', async (c, k) => { await c.imap('SELECT INBOX'); return timed(c, `STORE ${1 + (k % n)} +FLAGS (\\Flagged)`); }],
      ['EXPUNGE of one message', async (c, k) => { await c.imap('SELECT INBOX'); await c.imap(`STORE ${1 + (k % 50)} +FLAGS.SILENT (\\Deleted)`); return timed(c, 'EXPUNGE'); }],
    ];
    const rows = [];
    for (const [title, body] of ops) {
      const per = {};
      for (let r = 0; r < runs + 1; r++) {
        for (const name of ['local', 'shared']) {
          const { client } = await openClient(places[name].port, { timeoutMs: 120_000 });
          const login = await client.imap('LOGIN u pw');
          if (!login.ok) throw new Error(`${name}: LOGIN failed: ${login.status}`);
          const t0 = now();
          const inner = await body(client, r);
          const ms = inner ?? now() - t0;
          await client.imap('LOGOUT');
          client.close();
          if (r > 0) (per[name] ??= []).push(ms); // the first run of each is a warm-up
        }
      }
      rows.push(row(title, per));
    }
    const deliver = (p) => new Promise((resolve, reject) => {
      const [cmd, ...pre] = p.prefix.length ? p.prefix : ['procmail'];
      const args = p.prefix.length ? [...pre, 'procmail', '-m', p.rc] : ['-m', p.rc];
      const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'ignore'] });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`procmail exit ${code}`))));
      child.stdin.end(`From mda@example.com Tue Jan  2 03:04:05 2024\n${message(1).replace(/\r\n/g, '\n')}`);
    });
    if (spawnSync('procmail', ['-v']).status === 0) {
      const per = {};
      for (let r = 0; r < runs + 1; r++) {
        for (const name of ['local', 'shared']) {
          const t0 = now();
          await deliver(places[name]);
          if (r > 0) (per[name] ??= []).push(now() - t0);
        }
      }
      rows.push(row('procmail delivery (process start included)', per));
    }
    say('\nSeveral hosts (issue 16): per-operation cost, spool on a GlusterFS volume (FUSE, coherence options) vs local disk');
    say(table(['operation', 'local disk', 'shared volume', 'shared / local'], rows.map((r) => [r.title, fmtNum(r.local?.median, 'ms'), fmtNum(r.shared?.median, 'ms'), r.ratio ? `${r.ratio.toFixed(1)}x` : '-'])));
    return { rows };
  } finally {
    for (const h of servers) await h.stop?.().catch(() => {});
    rig.stop();
    rmSync(local, { recursive: true, force: true });
  }
}

async function timed(c, cmd) {
  const r = await c.imap(cmd);
  if (!r.ok) throw new Error(`${cmd.slice(0, 30)} failed: ${r.status}`);
  return r.ms;
}

function row(title, per) {
  const local = summary(per.local ?? []);
  const shared = summary(per.shared ?? []);
  return { title, local, shared, ratio: local && shared ? shared.median / local.median : null };
}

/** `--multihost-soak SECONDS`: the several-hosts test workload (test/multihost/gluster.test.ts: IMAP on two
 *  hosts, POP3, procmail from a third) round after round for that long, checked at the end. */
export function multihostSoak({ ROOT, seconds, say }) {
  say(`\nSeveral hosts (issue 16): soak of ${seconds} s (vitest, test/multihost/gluster.test.ts -t soak)`);
  const r = spawnSync(join(ROOT, 'node_modules/.bin/vitest'), ['run', '--config', 'test/vitest.config.ts', 'test/multihost/gluster.test.ts', '-t', 'soak'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, DMAIL_MULTIHOST_SOAK: String(seconds) }, timeout: (seconds + 900) * 1000,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const line = /multihost soak: .*/.exec(out)?.[0];
  say(r.status === 0 && line ? line : `soak FAILED (exit ${r.status}):\n${out.split('\n').filter((l) => /✓|×|Error|expected|FAIL/.test(l)).slice(0, 20).join('\n')}`);
  return { ok: r.status === 0, line: line ?? null };
}
