// APOP (RFC 1939) secrets: apop_secrets names a file of `user secret` lines (root-readable only).
// The digest is MD5(timestamp + secret) in lower-case hex; compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import type { Settings } from '../config/settings.js';

export function apopConfigured(settings: Settings): boolean {
  if (!settings.apop_enable || !settings.apop_secrets) return false;
  try { accessSync(settings.apop_secrets, constants.R_OK); return true; } catch { return false; }
}

/** The secret for `user` (exact name, then case-insensitive), or undefined. */
export function apopSecret(file: string, user: string): string | undefined {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
  let folded: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#') || !line.trim()) continue;
    const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === user) return m[2];
    if (folded === undefined && m[1]!.toLowerCase() === user.toLowerCase()) folded = m[2];
  }
  return folded;
}

export function apopDigestMatches(timestamp: string, secret: string, digestHex: string): boolean {
  const want = createHash('md5').update(timestamp + secret, 'utf8').digest();
  if (!/^[0-9a-fA-F]{32}$/.test(digestHex)) return false;
  return timingSafeEqual(want, Buffer.from(digestHex, 'hex'));
}
