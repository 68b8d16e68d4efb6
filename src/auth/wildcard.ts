// DMail's wildcard lists (user_ip_address, valid_users, manager_ip_address): `*` matches any run of
// characters, `?` exactly one, case-insensitive, anchored at both ends. For IP lists we also accept
// CIDR (`10.0.0.0/8`) because modern admins write it; DMail itself only documents wildcards.

import { isIP } from 'node:net';

const compiled = new Map<string, RegExp>();

/** Glob `pattern` against `text` with DMail's `*` / `?` wildcards, ignoring case. */
export function wildcardMatch(pattern: string, text: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    // Escape everything but the two wildcards; the result has no nested quantifiers, so no backtracking trap.
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, 'is');
    compiled.set(pattern, re);
  }
  return re.test(text);
}

/** `::ffff:1.2.3.4` (IPv4 seen on a dual-stack socket) → `1.2.3.4`; otherwise unchanged. */
export function normaliseIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function cidrMatch(pattern: string, ip: string): boolean {
  const [net, bitsText] = pattern.split('/');
  const bits = Number(bitsText);
  const a = ipv4ToInt(net ?? '');
  const b = ipv4ToInt(ip);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  if (bits === 0) return true;
  const shift = 32 - bits;
  return Math.floor(a / 2 ** shift) === Math.floor(b / 2 ** shift);
}

/** True when `ip` matches one of the list's entries (wildcards or IPv4 CIDR). An empty list allows all. */
export function ipAllowed(list: readonly string[], ip: string): boolean {
  if (list.length === 0) return true;
  const addr = normaliseIp(ip);
  return list.some((entry) => {
    const p = entry.trim();
    if (p === '') return false;
    if (p.includes('/') && isIP(addr) === 4) return cidrMatch(p, addr);
    return wildcardMatch(p, addr);
  });
}

/** True when any of `names` matches one of the list's wildcard entries. An empty list allows all. */
export function nameAllowed(list: readonly string[], names: readonly string[]): boolean {
  if (list.length === 0) return true;
  return list.some((p) => names.some((n) => wildcardMatch(p.trim(), n)));
}
