// Per-address login throttling that survives reconnects (issue 13). auth_max_failures closes one
// connection after a few failures; without a shared record a client simply reconnects. Each client
// address (IPv4, or the /64 of an IPv6 address: one host controls a whole /64) has a small record in
// `<work_path>/throttle/`: `<failures>\t<unix time of the last failure>\n`. Before the credentials of a
// login from an address with recent failures are checked, the server waits
//   2^(failures - 3) seconds (from the third failure on), at most `ip_failure_delay_max`,
// whatever the outcome will be, so the right password cannot be told from a wrong one by answering
// sooner. A success removes the record; failures older than `ip_failure_window` are forgotten.
//
// Written as the server's own identity (root under inetd) before any uid switch, like the forward_user
// records: a directory owned by that identity, mode 0700, and every record replaced atomically through
// store/safe-file (random temporary name, O_CREAT|O_EXCL|O_NOFOLLOW, directory checked by descriptor).
// Bounded: at most MAX_RECORDS records; when full, expired ones are pruned, and if it is still full the
// oldest records are dropped (an attacker cycling addresses cannot fill the disk). Concurrent attempts
// from one address may lose an increment (read, then replace): the delay still grows.

import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../log/types.js';
import { normaliseIp } from '../auth/wildcard.js';
import { effectiveUid, replaceFileSync } from '../store/safe-file.js';

export const MAX_RECORDS = 10_000;
/** Failures from one address before delays start (one connection's worth at the default auth_max_failures). */
const FREE_FAILURES = 2;

export const throttleDir = (workPath: string) => join(workPath, 'throttle');

type ThrottleSettings = Pick<Settings, 'work_path' | 'ip_failure_window' | 'ip_failure_delay_max'>;

/** Expand an IPv6 address to its eight groups (undefined if it is not one). */
function ipv6Groups(ip: string): string[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? new Array(8 - h.length - t.length).fill('0') : [];
  const groups = [...h, ...fill, ...t].map((g) => (parseInt(g, 16) || 0).toString(16));
  return groups.length === 8 ? groups : undefined;
}

/** The record name for a client address: the IPv4 address, or `v6-<first four groups>` for its /64. */
export function throttleKey(ipRaw: string): string | undefined {
  const ip = normaliseIp(ipRaw);
  if (isIP(ip) === 4) return ip;
  const g = ipv6Groups(ip);
  return g ? `v6-${g.slice(0, 4).join(':')}` : undefined;
}

interface Record { failures: number; last: number }

function readRecord(dir: string, key: string, windowSec: number, now: number): Record {
  try {
    const [f, t] = readFileSync(join(dir, key), 'utf8').trim().split('\t');
    const failures = Number(f);
    const last = Number(t);
    if (!Number.isSafeInteger(failures) || failures < 0 || !Number.isFinite(last)) return { failures: 0, last: 0 };
    if (now / 1000 - last >= windowSec) return { failures: 0, last: 0 };
    return { failures, last };
  } catch {
    return { failures: 0, last: 0 };
  }
}

/** Seconds to wait before checking a login from `ip` (0 when throttling is off or nothing is recorded). */
export function loginDelay(settings: ThrottleSettings, ip: string, now = Date.now()): { seconds: number; failures: number } {
  const key = throttleKey(ip);
  if (!key || settings.ip_failure_window <= 0) return { seconds: 0, failures: 0 };
  const { failures } = readRecord(throttleDir(settings.work_path), key, settings.ip_failure_window, now);
  if (failures <= FREE_FAILURES) return { seconds: 0, failures };
  const seconds = Math.min(Math.max(0, settings.ip_failure_delay_max), 2 ** Math.min(failures - FREE_FAILURES - 1, 30));
  return { seconds, failures };
}

/** Keep the directory within MAX_RECORDS: expired records go first, then the oldest. */
function prune(dir: string, windowSec: number, now: number, max: number): void {
  let names: string[];
  try { names = readdirSync(dir).filter((n) => !n.startsWith('.')); } catch { return; }
  if (names.length < max) return;
  const aged: { name: string; mtime: number }[] = [];
  for (const name of names) {
    try { aged.push({ name, mtime: statSync(join(dir, name)).mtimeMs }); } catch { /* gone */ }
  }
  aged.sort((a, b) => a.mtime - b.mtime);
  let left = aged.length;
  for (const r of aged) {
    if (left < max && now - r.mtime < windowSec * 1000) break;
    try { unlinkSync(join(dir, r.name)); left--; } catch { /* gone */ }
  }
}

/** Count a failed login from `ip`. Never throws (a read-only work_path must not break logins). */
export function recordFailure(settings: ThrottleSettings, ip: string, log?: Logger, now = Date.now(), max = MAX_RECORDS): void {
  const key = throttleKey(ip);
  if (!key || settings.ip_failure_window <= 0) return;
  const dir = throttleDir(settings.work_path);
  try {
    const r = readRecord(dir, key, settings.ip_failure_window, now);
    if (r.failures === 0) prune(dir, settings.ip_failure_window, now, max);
    replaceFileSync(dir, key, `${r.failures + 1}\t${Math.floor(now / 1000)}\n`, {
      mkdirMode: 0o700, mode: 0o600, sync: false, owners: [effectiveUid()], mtime: new Date(now),
    });
  } catch (e) {
    log?.warn({ err: (e as Error).message, dir }, 'cannot write the login failure record');
  }
}

/** A successful login from `ip` clears its record. */
export function clearFailures(settings: ThrottleSettings, ip: string): void {
  const key = throttleKey(ip);
  if (!key || settings.ip_failure_window <= 0) return;
  try { unlinkSync(join(throttleDir(settings.work_path), key)); } catch { /* none */ }
}
