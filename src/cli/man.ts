// The manual pages, generated from what the programs already say, so they cannot drift from it:
//   dmail-imapd(8), dmail-dpop(8)  from the servers' --help text (src/transport/server-main.ts)
//   dmailctl(8)                    from the commander tree of every dmailctl command (descriptions, options)
//   dmail.conf(5)                  from dmail.conf.example: its syntax notes, sections and each setting's comment
// `dmailctl man PAGE` prints one page; the build writes them all to dist/man/ (src/build.mjs) and the
// Debian package installs them. The page names carry the package's prefix (dmail-imapd, not imapd) so
// they never clash with uw-imapd's or another server's imapd(8).

import type { Command } from 'commander';

export const MAN_PAGES = ['dmail-imapd.8', 'dmail-dpop.8', 'dmailctl.8', 'dmail.conf.5'] as const;
export type ManPage = (typeof MAN_PAGES)[number];

/** Text made safe for roff: backslashes, leading control characters, hyphens of options, non-ASCII. */
export function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    // groff reads ASCII; other characters as named Unicode escapes (— becomes \[u2014]).
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function header(name: string, section: string, version: string, title: string): string[] {
  return [
    `.TH ${name.toUpperCase()} ${section} "" "dmail-imapd ${version}" "${section === '5' ? 'File Formats' : 'System Administration'}"`,
    '.SH NAME',
    `${roff(name)} \\- ${roff(title)}`,
  ];
}

/** Options lines of a --help text: two spaces, the flags, two or more spaces, the description. */
export function helpOptions(help: string): { flags: string; text: string }[] {
  const out: { flags: string; text: string }[] = [];
  for (const line of help.split('\n')) {
    const m = /^ {2}(-\S.*?) {2,}(\S.*)$/.exec(line);
    if (m) out.push({ flags: m[1]!, text: m[2]! });
    else if (out.length && /^ {6,}\S/.test(line)) out[out.length - 1]!.text += ' ' + line.trim();
  }
  return out;
}

const SERVER_TEXT: Record<'imapd' | 'dpop', { title: string; what: string; port: string; tls: string }> = {
  imapd: {
    title: 'DMail-compatible IMAP4rev1 server',
    what: 'serves IMAP4rev1 (with CONDSTORE/QRESYNC, IDLE and the other extensions its CAPABILITY lists) over NetWin DMail drop files, their .mbx folder directories, or maildirs',
    port: 'imap (143)', tls: 'imaps (993)',
  },
  dpop: {
    title: 'DMail-compatible POP3 server',
    what: 'serves POP3 (RFC 1939, with UIDL, TOP, CAPA, STLS, SASL and APOP) over NetWin DMail drop files or maildirs',
    port: 'pop3 (110)', tls: 'pop3s (995)',
  },
};

export function serverPage(program: 'imapd' | 'dpop', help: string, version: string): string {
  const t = SERVER_TEXT[program];
  const name = `dmail-${program}`;
  const lines = [
    ...header(name, '8', version, t.title),
    '.SH SYNOPSIS',
    roff(help.split('\n')[0]!.replace(/^usage:\s*/i, '').replace(/^\S+/, name)),
    '.SH DESCRIPTION',
    roff(`${name} ${t.what}. It is a drop-in replacement for DMail's ${program}: it reads the same dmail.conf, spool and user records.`),
    '.PP',
    roff(`Started by inetd, xinetd or systemd (Accept=yes) once per connection, it speaks on its standard input and output (systemd: file descriptor 3). Started with a listening socket (systemd Accept=no) it serves every connection that socket accepts. The ${t.port} and ${t.tls} lines of /usr/share/dmail-imapd/inetd.conf, the xinetd files and the systemd units shipped with the package are ready to use.`),
    '.PP',
    roff('dmail.conf is read afresh for every connection: a change applies to the next connection without a restart. After login the server switches to the user\'s uid before it touches any of the user\'s files.'),
    '.SH OPTIONS',
  ];
  for (const o of helpOptions(help)) lines.push('.TP', `.B ${roff(o.flags)}`, roff(o.text));
  lines.push(
    '.SH FILES',
    '.TP', '.I /etc/dmail.conf', 'the configuration; see dmail.conf(5)',
    '.TP', `.I <log_path>/${program}.log`, roff('the log (or syslog, see log_to in dmail.conf(5))'),
    '.SH EXIT STATUS',
    roff('0 when the session ended normally; 1 when the configuration could not be read or the start failed (the reason is on stderr, the journal under systemd, or in syslog).'),
    '.SH SEE ALSO',
    `${program === 'imapd' ? 'dmail\\-dpop' : 'dmail\\-imapd'}(8), dmailctl(8), dmail.conf(5), inetd(8), xinetd(8), systemd.socket(5)`,
  );
  return lines.join('\n') + '\n';
}

/** dmailctl(8): every command and subcommand with its arguments and options, from commander. */
export function dmailctlPage(program: Command, version: string): string {
  const lines = [
    ...header('dmailctl', '8', version, program.description()),
    '.SH SYNOPSIS',
    '.B dmailctl',
    '.I command',
    '[\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.SH DESCRIPTION',
    roff('dmailctl is the administration tool of dmail-imapd and dmail-dpop. Every command reads dmail.conf (default /etc/dmail.conf; -i FILE chooses another) the way the servers do.'),
    '.SH COMMANDS',
  ];
  const walk = (cmd: Command, prefix: string): void => {
    for (const sub of cmd.commands) {
      if (sub.name() === 'help') continue;
      const args = sub.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
      lines.push('.TP', `.B ${roff(`${prefix}${sub.name()}`)}${args.length ? ` ${roff(args.join(' '))}` : ''}`, roff(sub.description()));
      const opts = sub.options.filter((o) => o.long !== '--help');
      if (opts.length) {
        lines.push('.RS');
        for (const o of opts) {
          const def = o.defaultValue !== undefined && o.defaultValue !== false && o.defaultValue !== '' ? ` (default: ${String(o.defaultValue)})` : '';
          lines.push('.TP', `.B ${roff(o.flags)}`, roff(o.description + def));
        }
        lines.push('.RE');
      }
      walk(sub, `${prefix}${sub.name()} `);
    }
  };
  walk(program, '');
  lines.push('.SH SEE ALSO', 'dmail\\-imapd(8), dmail\\-dpop(8), dmail.conf(5)');
  return lines.join('\n') + '\n';
}

/** dmail.conf(5) from the annotated example: its opening comment is the syntax, each dashed banner a
 *  section, each `#name value` (or `name value`) line a setting described by the comment above it. */
export function confPage(example: string, version: string): string {
  const lines = [...header('dmail.conf', '5', version, 'configuration of dmail-imapd, dmail-dpop and dmailctl'), '.SH DESCRIPTION'];
  const src = example.split('\n');
  let i = 0;
  let para: string[] = [];
  const flush = () => { if (para.length) lines.push(roff(para.join('\n')), '.PP'); para = []; };
  // The opening comment, up to the first banner.
  for (; i < src.length && !/^# -{20,}/.test(src[i]!); i++) {
    const t = src[i]!.replace(/^# ?/, '');
    if (/^\s*$/.test(t)) flush();
    else if (/^ {2,}\*|^ {4,}/.test(t)) { flush(); lines.push('.nf', roff(t), '.fi'); }
    else para.push(t);
  }
  flush();
  let comment: string[] = [];
  for (; i < src.length; i++) {
    const l = src[i]!;
    if (/^# -{20,}/.test(l)) {
      const title = src[i + 1]?.replace(/^# ?/, '').trim() ?? '';
      if (title && !/^-+$/.test(title)) lines.push(`.SH ${roff(title.toUpperCase())}`);
      i += 2;
      comment = [];
      continue;
    }
    const setting = /^#?([a-z][a-z0-9_]*) (.*)$/.exec(l);
    if (setting && !/^#(include|imapd_include) /.test(l)) {
      lines.push('.TP', `.B ${roff(setting[1]!)} ${roff(setting[2]!)}`);
      lines.push(comment.length ? roff(comment.join(' ')) : '');
      comment = [];
    } else if (l.startsWith('#')) {
      comment.push(l.replace(/^# ?/, ''));
    } else if (l.trim() === '') {
      if (comment.length) { lines.push('.PP', roff(comment.join(' '))); comment = []; }
    }
  }
  lines.push('.SH FILES', '.TP', '.I /etc/dmail.conf', 'the default location', '.TP', '.I /usr/share/doc/dmail-imapd/dmail.conf.example', 'every setting, annotated (the source of this page)');
  lines.push('.SH SEE ALSO', 'dmail\\-imapd(8), dmail\\-dpop(8), dmailctl(8)');
  return lines.join('\n') + '\n';
}
