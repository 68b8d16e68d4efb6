// The one place where a login name becomes a drop-file name (Decision 3, issue 13). auth/names.ts calls
// dropNameFor() when it resolves a login; store/paths.ts and store/maildir/paths.ts only check the result
// (checkDropName) before they build paths from it. Nothing else turns names into file names.
//
// The mapping is injective and never lands on a file the server or an MDA keeps beside the drop files:
// - every character of `invalid_chars`, every control character and `/` (always) become %XX (UTF-8
//   bytes, upper-case hex), as DMail sites expect;
// - `%` becomes %25 when it would otherwise read as an escape (followed by two hex digits, or listed in
//   invalid_chars), so `a%2Fb` and `a/b` get different files (a lone `%` as in `a%b` stays as it was);
// - a name that would look like an internal file — starting with `.`, ending in `.lock` (dot-locks),
//   `.mbx` (folder directories), `.mdir` (maildirs), or in `.<this host>` / `.<this host>.<pid>[.<lock_id>]`
//   (procmail's and our dot-lock temporary files) — has all its dots written %2E: `x.lock` → `x%2Elock`;
// - the result plus the longest suffix the server adds (`.lock`, `.mbx`, `.mdir`, the dot-lock temporary
//   name) must fit a file name (255 bytes); a longer name is refused at login with a clear error.
// Decoding %XX gives back the name, so two names never share a file. Ordinary names (letters, digits,
// `.`, `-`, `_`, `@` inside) map to themselves, so existing DMail drop files keep their paths.

import { hostname } from 'node:os';
import type { Settings } from '../config/settings.js';
import { StoreError } from './types.js';

/** Longest file name on the file systems we run on (Linux NAME_MAX). */
export const NAME_MAX = 255;

type NameSettings = Pick<Settings, 'invalid_chars' | 'lock_id'>;
type PrefixSettings = NameSettings & Pick<Settings, 'vdomain_separator'>;

export type DropNameResult = { ok: true; dropName: string } | { ok: false; reason: string };

const HEX2 = /^[0-9A-Fa-f]{2}$/;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function pct(ch: string): string {
  let out = '';
  for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  return out;
}

/** %XX-encoding of `name` (see the header): invalid_chars, controls, `/`, and `%` where ambiguous. */
function encode(name: string, invalid: string): string {
  const chars = [...name];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const code = ch.codePointAt(0)!;
    if (ch === '%') {
      out += invalid.includes('%') || HEX2.test((chars[i + 1] ?? '') + (chars[i + 2] ?? '')) ? '%25' : '%';
    } else if (ch === '/' || invalid.includes(ch) || code < 0x20 || code === 0x7f) {
      out += pct(ch);
    } else {
      out += ch;
    }
  }
  return out;
}

/** The bytes the dot-lock temporary name adds to a drop name: a leading dot and `.<host>.<pid>[.<lock_id>]`
 *  (store/lock.ts linkTempName). */
function lockTempSuffixBytes(settings: NameSettings): number {
  const pidMax = 7; // pid_max is at most 4194304
  return 1 + 1 + Buffer.byteLength(hostname()) + 1 + pidMax + (settings.lock_id ? 1 + Buffer.byteLength(settings.lock_id) : 0);
}

/** Longest drop-file name (bytes) that leaves room for every suffix the server adds. */
export function maxDropNameBytes(settings: NameSettings): number {
  return NAME_MAX - Math.max('.lock'.length, '.mdir'.length, lockTempSuffixBytes(settings));
}

function reservedPattern(settings: NameSettings): RegExp {
  const host = escapeRe(hostname().toLowerCase());
  const id = settings.lock_id ? `(\\.${escapeRe(settings.lock_id.toLowerCase())})?` : '';
  return new RegExp(`^\\.|\\.(lock|mbx|mdir)$|\\.${host}(\\.\\d+${id})?$`);
}

/** True for a name the server or an MDA could use for one of its own files beside the drop files. */
export function looksInternal(name: string, settings: NameSettings): boolean {
  return reservedPattern(settings).test(name.toLowerCase());
}

/**
 * The drop-file name for an account name (vdomain prefix + separator + user, as typed or as the auth
 * module spells it). `lead`: with drop_prefix, the `prefix + separator` that store/paths.ts turns into a
 * directory; what follows it must be safe on its own too.
 */
export function dropNameFor(accountName: string, settings: NameSettings, lead?: string): DropNameResult {
  const invalid = settings.invalid_chars ?? '/';
  let name = encode(accountName, invalid);
  const encLead = lead ? encode(lead, invalid) : '';
  const tail = encLead && name.startsWith(encLead) ? name.slice(encLead.length) : undefined;
  if (/^\.*$/.test(name) || looksInternal(name, settings) || (tail !== undefined && (/^\.*$/.test(tail) || looksInternal(tail, settings)))) {
    name = name.replace(/\./g, '%2E');
  }
  const bytes = Buffer.byteLength(name);
  const max = maxDropNameBytes(settings);
  if (name === '' || (tail !== undefined && name.length === encLead.length)) return { ok: false, reason: 'empty user name' };
  if (bytes > max) {
    return { ok: false, reason: `user name too long: its drop file name would be ${bytes} bytes, at most ${max} fit` };
  }
  return { ok: true, dropName: name };
}

/** A drop name as dropNameFor() makes them: what store/paths.ts and the maildir layout accept. */
export function checkDropName(dropName: string, settings: NameSettings): void {
  if (!dropName || dropName.includes('/') || dropName.includes('\0') || /^\.*$/.test(dropName)
    || looksInternal(dropName, settings) || Buffer.byteLength(dropName) > maxDropNameBytes(settings)) {
    throw new StoreError('NOPERM', `unsafe drop file name ${JSON.stringify(dropName.slice(0, 300))}`);
  }
}

/** drop_prefix: `cc_sales` is filed as `<drop_path>/cc/sales`. Both parts are checked as drop names. */
export function splitDropPrefix(dropName: string, prefix: string, settings: PrefixSettings): { dir: string; name: string } {
  const invalid = settings.invalid_chars ?? '/';
  const lead = encode(prefix + (settings.vdomain_separator ?? '_'), invalid);
  const name = dropName.startsWith(lead) ? dropName.slice(lead.length) : dropName;
  checkDropName(name, settings);
  checkDropName(prefix, settings);
  return { dir: prefix, name };
}
