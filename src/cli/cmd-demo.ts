// dmailctl demo (what `npm start` runs): a self-contained DMail site under <repo>/demo — dmail.conf, a
// spool with user "demo" (password "demo") holding a few realistic messages, users in a file served by
// `dmailctl authd` as the external authentication module — then serves it like `dmailctl serve`.
// An existing demo is reused (its mail is never overwritten); --reset builds it afresh.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { repoRoot, serveForever } from './cmd-serve.js';

export interface DemoSite {
  dir: string;
  conf: string;
  created: boolean;
}

function asctime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

function rfc2822(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}

/** The demo mailbox: a plain note, an HTML newsletter, an attachment, a non-ASCII subject, a thread. */
export function demoMessages(now = new Date()): { from: string; date: Date; text: string }[] {
  const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * 3600_000);
  const d = [at(50), at(30), at(26), at(20), at(5), at(2)];
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
  return [
    {
      from: 'postmaster@example.com', date: d[0], text: [
        'From: Postmaster <postmaster@example.com>',
        'To: Demo User <demo@localhost>',
        'Subject: Welcome to your demo mailbox',
        `Date: ${rfc2822(d[0])}`,
        'Message-ID: <welcome.1@example.com>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=us-ascii',
        'Status: RO',
        '',
        'Hello,',
        '',
        'This mailbox is a plain Unix mbox drop file: demo/spool/demo.',
        'Read it over IMAP (port 1143) or POP3 (port 1110) as user "demo", password "demo".',
        '',
        'From here on, everything you do is real: flags, folders and deletions are written',
        'to the files under demo/.',
        '',
        '-- ',
        'The Postmaster',
      ].join('\n'),
    },
    {
      from: 'news@example.org', date: d[1], text: [
        'From: Example News <news@example.org>',
        'To: demo@localhost',
        'Subject: This week: release notes and a survey',
        `Date: ${rfc2822(d[1])}`,
        'Message-ID: <news.2024.17@example.org>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/alternative; boundary="alt-boundary-42"',
        '',
        'This is a multi-part message in MIME format.',
        '',
        '--alt-boundary-42',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 7bit',
        '',
        'Release notes',
        '=============',
        '* Faster start-up',
        '* Fewer surprises',
        '',
        '--alt-boundary-42',
        'Content-Type: text/html; charset=utf-8',
        'Content-Transfer-Encoding: 7bit',
        '',
        '<html><body><h1>Release notes</h1><ul><li>Faster start-up</li><li>Fewer surprises</li></ul></body></html>',
        '',
        '--alt-boundary-42--',
      ].join('\n'),
    },
    {
      from: 'alice@example.net', date: d[2], text: [
        'From: Alice Example <alice@example.net>',
        'To: Demo User <demo@localhost>',
        'Subject: Quarterly figures (attached)',
        `Date: ${rfc2822(d[2])}`,
        'Message-ID: <figures.7@example.net>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="mixed-7"',
        '',
        '--mixed-7',
        'Content-Type: text/plain; charset=us-ascii',
        '',
        'Hi, the figures and a tiny logo are attached.',
        '',
        'Alice',
        '',
        '--mixed-7',
        'Content-Type: text/csv; name="figures.csv"',
        'Content-Disposition: attachment; filename="figures.csv"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('quarter,revenue\nQ1,100\nQ2,120\nQ3,135\n').toString('base64'),
        '',
        '--mixed-7',
        'Content-Type: image/png; name="logo.png"',
        'Content-Disposition: attachment; filename="logo.png"',
        'Content-Transfer-Encoding: base64',
        '',
        png.toString('base64'),
        '',
        '--mixed-7--',
      ].join('\n'),
    },
    {
      from: 'jurgen@example.de', date: d[3], text: [
        'From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jurgen@example.de>',
        'To: demo@localhost',
        `Subject: =?UTF-8?B?${Buffer.from('Grüße aus München ☕').toString('base64')}?=`,
        `Date: ${rfc2822(d[3])}`,
        'Message-ID: <gruesse.3@example.de>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'Hallo! Viele Gr=C3=BC=C3=9Fe aus M=C3=BCnchen.',
        'Der Kaffee ist fertig =E2=98=95',
      ].join('\n'),
    },
    {
      from: 'bob@example.com', date: d[4], text: [
        'From: Bob Builder <bob@example.com>',
        'To: Demo User <demo@localhost>',
        'Subject: Lunch on Friday?',
        `Date: ${rfc2822(d[4])}`,
        'Message-ID: <lunch.1@example.com>',
        'Content-Type: text/plain; charset=us-ascii',
        '',
        'Are you free for lunch on Friday? The usual place at noon.',
        '',
        'From experience, booking ahead helps.',
        '',
        'Bob',
      ].join('\n'),
    },
    {
      from: 'carol@example.com', date: d[5], text: [
        'From: Carol <carol@example.com>',
        'To: Bob Builder <bob@example.com>',
        'Cc: Demo User <demo@localhost>',
        'Subject: Re: Lunch on Friday?',
        `Date: ${rfc2822(d[5])}`,
        'Message-ID: <lunch.2@example.com>',
        'In-Reply-To: <lunch.1@example.com>',
        'References: <lunch.1@example.com>',
        'Content-Type: text/plain; charset=us-ascii',
        '',
        'Count me in.',
        '',
        '> Are you free for lunch on Friday? The usual place at noon.',
        '',
        'Carol',
      ].join('\n'),
    },
  ];
}

/** mboxrd: body lines starting with (>*)From  get one more '>'. */
export function toMbox(messages: { from: string; date: Date; text: string }[]): string {
  return messages.map((m) => {
    const body = m.text.replace(/^(>*From )/gm, '>$1');
    return `From ${m.from} ${asctime(m.date)}\n${body}\n\n`;
  }).join('');
}

export function buildDemo(root: string, dir: string, reset: boolean): DemoSite {
  const conf = join(dir, 'dmail.conf');
  if (reset) rmSync(dir, { recursive: true, force: true });
  if (existsSync(conf)) return { dir, conf, created: false };
  for (const sub of ['spool', 'log', 'work']) mkdirSync(join(dir, sub), { recursive: true });
  const db = join(dir, 'users.db');
  const dmailctl = join(root, 'bin', 'dmailctl');
  writeFileSync(conf, [
    '# Demo site made by `dmailctl demo` (npm start). See dmail.conf.example for every setting.',
    `drop_path ${join(dir, 'spool')}`,
    `log_path ${join(dir, 'log')}`,
    `work_path ${join(dir, 'work')}`,
    'log_level info',
    'host_domain localhost',
    '# Demo users have no uid: sessions run as whoever started the servers (no setuid).',
    ...(process.getuid?.() === 0
      ? ['# Started as root, that is root: refused unless allowed (acceptable for a local demo only).', 'allow_root_login true']
      : []),
    '# Users live in demo/users.db, served by the bundled external authentication module.',
    'authent_method external',
    `authent_process ${dmailctl} authd --db ${db}`,
    'auth_fail_delay 1',
    '',
  ].join('\n'));
  execFileSync(dmailctl, ['authd', '--db', db, 'set', 'demo', 'demo'], { stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(join(dir, 'spool', 'demo'), toMbox(demoMessages()), { mode: 0o600 });
  return { dir, conf, created: true };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('build a demo site under <repo>/demo (user demo, password demo) and serve it on loopback')
    .option('--dir <dir>', 'where to build the demo', '')
    .option('--reset', 'delete an existing demo first')
    .option('--imap-port <n>', 'IMAP port', (v) => Number(v), 1143)
    .option('--pop-port <n>', 'POP3 port', (v) => Number(v), 1110)
    .option('--no-serve', 'only build the site')
    .action(async (opts: { dir: string; reset?: boolean; imapPort: number; popPort: number; serve: boolean }) => {
      const root = repoRoot();
      const site = buildDemo(root, opts.dir || join(root, 'demo'), Boolean(opts.reset));
      process.stdout.write(`${site.created ? 'Created' : 'Using existing'} demo site in ${site.dir} (--reset starts afresh)\n`);
      if (!opts.serve) return;
      const host = '127.0.0.1';
      process.stdout.write([
        '',
        'Try it (user "demo", password "demo"):',
        `  telnet ${host} ${opts.imapPort}     then: a LOGIN demo demo / b SELECT INBOX / c FETCH 1:* ENVELOPE / d LOGOUT`,
        `  telnet ${host} ${opts.popPort}     then: USER demo / PASS demo / LIST / RETR 1 / QUIT`,
        `  mutt -f imap://demo@${host}:${opts.imapPort}/INBOX`,
        `  or any mail client: IMAP server ${host} port ${opts.imapPort}, POP3 port ${opts.popPort}, no TLS, plain password`,
        `Logs: ${join(site.dir, 'log')}/imapd.log and dpop.log`,
        '',
      ].join('\n'));
      await serveForever({ config: site.conf, host, imapPort: opts.imapPort, popPort: opts.popPort });
    });
}
