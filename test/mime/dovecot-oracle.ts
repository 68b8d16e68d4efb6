// Runs Dovecot's imap binary (pre-authenticated, on a temporary maildir) as an oracle: the same
// messages go to Dovecot and to our MIME engine and the answers are compared. Dovecot refuses to
// run as root, so when we are root it runs as `nobody` via setpriv.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchItems } from './corpus-reader.js';

export const DOVECOT_IMAP = '/usr/lib/dovecot/imap';

export function dovecotAvailable(): boolean {
  return existsSync(DOVECOT_IMAP);
}

/** Splits an IMAP response stream into responses (one logical line each, literals included). */
export function splitResponses(s: string): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos < s.length) {
    let resp = '';
    for (;;) {
      const e = s.indexOf('\r\n', pos);
      if (e < 0) {
        resp += s.slice(pos);
        pos = s.length;
        break;
      }
      const line = s.slice(pos, e + 2);
      pos = e + 2;
      resp += line;
      const m = /~?\{(\d+)\}\r\n$/.exec(line);
      if (!m) break;
      resp += s.slice(pos, pos + Number(m[1]));
      pos += Number(m[1]);
    }
    out.push(resp);
  }
  return out;
}

/**
 * Stores the messages in a fresh maildir and runs `commands(n)` for each message sequence number
 * 1..N in one Dovecot session. Returns, per message, the merged FETCH items.
 */
/** Runs one pre-authenticated Dovecot session on a maildir holding `messages`; returns stdout. */
function runDovecot(messages: Buffer[], script: Buffer): string {
  const home = mkdtempSync(join(tmpdir(), 'mime-dovecot-'));
  try {
    const names = messages.map((_, i) => `${1000000000 + i}.M${i}P1.oracle:2,`);
    for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(home, 'Maildir', d), { recursive: true });
    // Names sort in message order; Dovecot assigns UIDs in that order.
    messages.forEach((m, i) => writeFileSync(join(home, 'Maildir', 'cur', names[i]), m));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      for (const p of [home, ...['Maildir', 'Maildir/cur', 'Maildir/new', 'Maildir/tmp'].map((d) => join(home, d)), ...names.map((n) => join(home, 'Maildir', 'cur', n))]) {
        chownSync(p, 65534, 65534);
      }
    }
    const env = { USER: asRoot ? 'nobody' : (process.env.USER ?? 'user'), HOME: home, PATH: '/usr/bin:/bin' };
    const args = [DOVECOT_IMAP, '-o', `mail_location=maildir:${join(home, 'Maildir')}`];
    const r = asRoot
      ? spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...args], { input: script, env, maxBuffer: 1 << 28 })
      : spawnSync(args[0], args.slice(1), { input: script, env, maxBuffer: 1 << 28 });
    return r.stdout.toString('latin1');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * Stores the messages in a fresh maildir and runs `commands(n)` for each message sequence number
 * 1..N in one Dovecot session. Returns, per message, the merged FETCH items.
 */
export function askDovecot(messages: Buffer[], commands: (seq: number) => string[]): Map<string, string>[] {
  let script = 'x EXAMINE INBOX\r\n';
  let tag = 0;
  for (let i = 1; i <= messages.length; i++) for (const c of commands(i)) script += `t${tag++} FETCH ${i} ${c}\r\n`;
  script += 'z LOGOUT\r\n';
  const out = runDovecot(messages, Buffer.from(script, 'latin1'));
  const result: Map<string, string>[] = messages.map(() => new Map());
  for (const resp of splitResponses(out)) {
    const m = /^\* (\d+) FETCH /.exec(resp);
    if (!m) continue;
    const seq = Number(m[1]);
    for (const [k, v] of fetchItems(resp)) result[seq - 1]?.set(k, v);
  }
  return result;
}

/** Runs `SEARCH CHARSET UTF-8 <key> <term>` for each query; returns the matching sequence numbers. */
export function dovecotSearch(messages: Buffer[], queries: { key: string; term: string }[]): number[][] {
  const chunks: Buffer[] = [Buffer.from('x EXAMINE INBOX\r\n')];
  queries.forEach((q, i) => {
    const bytes = Buffer.from(q.term, 'utf8');
    chunks.push(Buffer.from(`s${i} SEARCH CHARSET UTF-8 ${q.key} {${bytes.length}+}\r\n`), bytes, Buffer.from('\r\n'));
  });
  chunks.push(Buffer.from('z LOGOUT\r\n'));
  const out = runDovecot(messages, Buffer.concat(chunks));
  return out
    .split('\r\n')
    .filter((l) => l.startsWith('* SEARCH'))
    .map((l) => l.slice(8).trim().split(' ').filter(Boolean).map(Number));
}
