// `dmailctl authd`: DMail's external authentication protocol over stdin/stdout (dmail-reference §4.3),
// plus NWAuth's admin words. One request per line, one reply line (search: `+DATA` lines, then `+OK`).
//   check <user> <pass> [ip]   lookup <user>   set <user> <pass>|(NULL) [label="value" ...]
//   del <user>   search <pattern> [-from n] [-max m]   version   help   exit | quit
// Replies: `+OK <user> <drop> <uid> [info]`, `-ERR <reason>`, `-DEAD <reason>` (database unreadable).

import { createInterface } from 'node:readline';
import { isIP } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { hashSha512Crypt, verifyCrypt } from '../crypt.js';
import { wildcardMatch } from '../wildcard.js';
import { formatInfo, validLabel, validName, validValue, type DbUser, type UserDb } from './db.js';

export const VERSION = 'dmail authd 1.0';

const HELP = [
  'check <user> <pass> [ip]', 'lookup <user>', 'set <user> <pass>|(NULL) [label="value" ...]',
  'del <user>', 'search <pattern> [-from n] [-max m]', 'version', 'help', 'exit',
];

export interface Reply { lines: string[]; exit?: boolean; ok: boolean }

const ok = (line: string): Reply => ({ lines: [line], ok: true });
const err = (line: string): Reply => ({ lines: [line], ok: false });

function replyFor(u: DbUser): string {
  const { drop, ...info } = u.info;
  const infoText = formatInfo(info);
  // The name as stored (names match case-insensitively): the server then uses the user's own drop file
  // for `LOGIN DEMO`, not a new `DEMO`. Without a stored drop path we echo that name: the server then
  // computes the path.
  return `+OK ${u.name} ${drop ?? u.name} ${u.uid}${infoText ? ' ' + infoText : ''}`;
}

/** Split a request into words, keeping `label="value with spaces"` together. */
function words(line: string): string[] {
  return line.match(/[^\s"=]+="[^"]*"|\S+/g) ?? [];
}

/** Parse a protocol line into a command and its arguments. `check` keeps single spaces so that a
 *  password holding spaces survives; `set` keeps `label="value with spaces"` together. */
export function parseLine(line: string): { cmd: string; args: string[] } {
  const trimmed = line.replace(/\r$/, '').trim();
  const sp = trimmed.indexOf(' ');
  const cmd = (sp < 0 ? trimmed : trimmed.slice(0, sp)).toLowerCase();
  const rest = sp < 0 ? '' : trimmed.slice(sp + 1).replace(/^ +/, '');
  if (cmd === 'check') {
    const parts = rest.split(' ');
    // Everything between the name and an optional trailing client IP is the password.
    if (parts.length >= 3 && isIP(parts[parts.length - 1]!)) parts.pop();
    return { cmd, args: parts.length > 1 ? [parts[0]!, parts.slice(1).join(' ')] : parts };
  }
  return { cmd, args: cmd === 'set' ? words(rest) : rest.split(/\s+/).filter(Boolean) };
}

export function handleCommand(db: UserDb, line: string): Promise<Reply> {
  const { cmd, args } = parseLine(line);
  return handleRequest(db, cmd, args);
}

/** One request with its arguments already split (the one-shot CLI passes argv words as they are). */
export async function handleRequest(db: UserDb, cmd: string, args: string[]): Promise<Reply> {
  try {
    switch (cmd) {
      case '': return err('-ERR empty command');
      case 'exit': case 'quit': return { lines: ['+OK bye'], exit: true, ok: true };
      case 'version': return ok(`+OK ${VERSION}`);
      case 'help': return { lines: [...HELP.map((h) => `+DATA ${h}`), '+OK'], ok: true };
      case 'check': {
        const [name = '', pass = ''] = args;
        const u = validName(name) ? await db.get(name) : undefined;
        // Verify against a dummy hash for unknown users so both cases cost one crypt(3).
        const good = await verifyCrypt(pass, u?.hash ?? '$6$nosuchuser$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
        return u && good && pass !== '' ? ok(replyFor(u)) : err(`-ERR ${name.slice(0, 60)} password wrong or not a valid user`);
      }
      case 'lookup': {
        const name = args[0] ?? '';
        const u = validName(name) ? await db.get(name) : undefined;
        return u ? ok(replyFor(u)) : err(`-ERR ${name.slice(0, 60)} not a valid user`);
      }
      case 'set': {
        const [name = '', pass = '', ...fields] = args;
        if (!validName(name)) return err('-ERR invalid user name');
        if (pass === '') return err('-ERR usage: set <user> <pass>|(NULL) [label="value" ...]');
        const info: Record<string, string> = {};
        let uid: number | undefined;
        for (const f of fields) {
          const m = /^([^\s="]+)="([^"]*)"$/.exec(f);
          if (!m || !validLabel(m[1]!) || !validValue(m[2]!)) return err(`-ERR bad field ${f.slice(0, 60)} (want label="value")`);
          if (m[1]!.toLowerCase() === 'uid') {
            if (!/^\d{1,10}$/.test(m[2]!)) return err('-ERR uid must be a number');
            uid = Number(m[2]);
          } else info[m[1]!.toLowerCase()] = m[2]!;
        }
        const hash = pass === '(NULL)' ? undefined : await hashSha512Crypt(pass);
        const key = name.toLowerCase();
        const result = await db.update((users) => {
          const old = users.get(key);
          if (!old && !hash) return 'nouser';
          users.set(key, {
            name: key,
            hash: hash ?? old!.hash,
            uid: uid ?? old?.uid ?? 0,
            info: { ...(old?.info ?? {}), ...info },
          });
          return old ? 'modified' : 'added';
        });
        if (result === 'nouser') return err(`-ERR ${key} not found: (NULL) keeps an existing password only`);
        return ok(`+OK ${key} ${result === 'added' ? 'added to database' : 'modified'}`);
      }
      case 'del': {
        const name = (args[0] ?? '').toLowerCase();
        if (!validName(name)) return err('-ERR invalid user name');
        const gone = await db.update((users) => users.delete(name));
        return gone ? ok(`+OK ${name} deleted`) : err(`-ERR ${name} not found`);
      }
      case 'search': {
        const w = args;
        let pattern = '*';
        let from = 0;
        let max = 1000;
        for (let i = 0; i < w.length; i++) {
          if (w[i] === '-from') from = Number(w[++i] ?? 0) || 0;
          else if (w[i] === '-max') max = Number(w[++i] ?? max) || max;
          else pattern = w[i]!;
        }
        const found = [...(await db.load()).values()].filter((u) => wildcardMatch(pattern, u.name)).sort((a, b) => a.name.localeCompare(b.name));
        const page = found.slice(from, from + max);
        return { lines: [...page.map((u) => `+DATA ${u.name} ${u.uid}${Object.keys(u.info).length ? ' ' + formatInfo(u.info) : ''}`), `+OK ${page.length} of ${found.length} found`], ok: true };
      }
      default:
        return err(`-ERR unknown command ${cmd.slice(0, 30)}`);
    }
  } catch (e) {
    // The database could not be read or written: the server must treat this as temporary.
    return err(`-DEAD ${(e as Error).message.replace(/[\r\n]/g, ' ').slice(0, 90)}`);
  }
}

/** Serve requests until `exit` or end of input. Requests are answered strictly in order. */
export async function runAuthd(db: UserDb, input: Readable, output: Writable): Promise<void> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) {
    const r = await handleCommand(db, line);
    output.write(r.lines.map((l) => l + '\n').join(''));
    if (r.exit) break;
  }
  rl.close();
}
