// How a login name becomes a user, a domain and a drop-file name (dmail-reference §2.2, §4.1, §5).
// Order: trim → lowercase_username → imapd_strip_domain → `@domain` (host_domain alias or suffix
// vdomain) → IP vdomain by the connection's local address → prefix + vdomain_separator → invalid_chars.

import type { Settings } from '../config/settings.js';
import { dropNameFor } from '../store/drop-name.js';
import { normaliseIp } from './wildcard.js';

export interface VDomain {
  prefix: string;
  /** `@suffix` (lower-cased, with the @) or an IP address. */
  selector: string;
  domain: string;
  path?: string;
}

export interface ResolvedName {
  login: string;
  /** Canonical user name (no domain, no prefix). */
  user: string;
  domain?: string;
  prefix?: string;
  /** Drop-file base name, invalid_chars encoded. */
  dropName: string;
  dropDir?: string;
  /** What an external module is sent: `user@domain` (authent_domain) or the prefixed name. */
  moduleName: string;
  /** The prefixed name before encoding (`cc_sales`): the unix account name of a vdomain user. */
  accountName: string;
}

/** `tell`: the reason may be shown to the client (a name that can never map to a drop file, decided
 *  from the name alone); otherwise the failure looks like any other failed login. */
export type NameResult = { ok: true; name: ResolvedName } | { ok: false; reason: string; tell?: boolean };

/** Parse `vdomain <prefix> <@suffix|IP> <domain> [path]` lines; malformed lines are skipped. */
export function parseVdomains(lines: readonly string[]): VDomain[] {
  const out: VDomain[] = [];
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const [prefix, selector, domain, ...rest] = f as [string, string, string, ...string[]];
    out.push({
      prefix,
      selector: selector.startsWith('@') ? selector.toLowerCase() : normaliseIp(selector),
      domain: domain.toLowerCase(),
      ...(rest.length ? { path: rest.join(' ') } : {}),
    });
  }
  return out;
}

/** `<domain> <value>` lines (alt_drop_path, vdomain_passwd) as a map keyed by lower-cased domain. */
export function domainMap(lines: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of lines) {
    const t = line.trim();
    const sp = t.search(/\s/);
    if (sp <= 0) continue;
    m.set(t.slice(0, sp).toLowerCase().replace(/^@/, ''), t.slice(sp).trim());
  }
  return m;
}

// Anything that could split a protocol line or a path component is refused outright: the external
// protocol is whitespace-separated and a drop name must never walk out of the spool.
const BAD_NAME = /[\x00-\x20\x7f]/;
const MAX_NAME = 255;

export function resolveLoginName(settings: Settings, login: string, localAddress: string): NameResult {
  let name = login.trim();
  if (name === '' || name.length > MAX_NAME || BAD_NAME.test(name)) return { ok: false, reason: 'invalid user name' };
  if (settings.lowercase_username) name = name.toLowerCase();

  const strip = settings.imapd_strip_domain;
  if (strip && name.length > strip.length && name.toLowerCase().endsWith(strip.toLowerCase())) {
    name = name.slice(0, name.length - strip.length).replace(/[@%]$/, '');
  }

  const vdomains = parseVdomains(settings.vdomain);
  let user = name;
  let vd: VDomain | undefined;
  const at = name.lastIndexOf('@');
  if (at > 0 && at < name.length - 1) {
    const dom = name.slice(at + 1).toLowerCase();
    const hostDomains = settings.host_domain.map((d) => d.trim().toLowerCase());
    if (hostDomains.includes(dom)) {
      user = name.slice(0, at);
    } else {
      vd = vdomains.find((v) => v.selector === `@${dom}`);
      if (vd) user = name.slice(0, at);
      // Any other domain: keep the whole name; a module may know `user@elsewhere`, unix_user will not.
    }
  }
  if (!vd) {
    const local = normaliseIp(localAddress);
    vd = vdomains.find((v) => !v.selector.startsWith('@') && v.selector === local);
  }
  if (user === '' || user === '.' || user === '..') return { ok: false, reason: 'invalid user name' };
  // allow_dds: DMail could allow ../ in names; we accept the name but it is always encoded below so it
  // never becomes a path. Without allow_dds such names are refused as DMail did.
  if (!settings.allow_dds && /(^|[/\\])\.\.([/\\]|$)/.test(user)) return { ok: false, reason: 'invalid user name' };

  const sep = settings.vdomain_separator ?? '_';
  const accountName = vd ? `${vd.prefix}${sep}${user}` : user;
  const alt = vd ? domainMap(settings.alt_drop_path).get(vd.domain) : undefined;
  const dropDir = vd?.path ?? alt;
  const mapped = dropNameFor(accountName, settings, vd && settings.drop_prefix && !dropDir ? `${vd.prefix}${sep}` : undefined);
  if (!mapped.ok) return { ok: false, reason: mapped.reason, tell: true };
  const dropName = mapped.dropName;
  const moduleName = settings.authent_domain && vd ? `${user}@${vd.domain}` : accountName;
  return {
    ok: true,
    name: {
      login, user, dropName, moduleName, accountName,
      ...(vd ? { domain: vd.domain, prefix: vd.prefix } : {}),
      ...(dropDir ? { dropDir } : {}),
    },
  };
}

/**
 * The same user as the auth module spells it. A module may match names case-insensitively (the bundled
 * `dmailctl authd` does): `LOGIN DEMO demo` is then user `demo`, and the drop file must be demo's, not a
 * new `DEMO`. A reply name that differs only in case from what we sent replaces our spelling; any other
 * reply name (an alias) is not trusted to pick a drop file and the name stays as resolved.
 */
export function withCanonicalName(settings: Settings, n: ResolvedName, replyName: string): NameResult {
  if (!replyName || replyName === n.moduleName || replyName.length !== n.moduleName.length
    || replyName.toLowerCase() !== n.moduleName.toLowerCase()) return { ok: true, name: n };
  let user: string;
  let accountName: string;
  if (n.moduleName === n.accountName) {
    accountName = replyName;
    user = replyName.slice(replyName.length - n.user.length);
  } else {
    // authent_domain: `user@domain` was sent; the user part is the start.
    user = replyName.slice(0, n.user.length);
    accountName = n.accountName.slice(0, n.accountName.length - n.user.length) + user;
  }
  const sep = settings.vdomain_separator ?? '_';
  const lead = n.prefix && settings.drop_prefix && !n.dropDir ? `${n.prefix}${sep}` : undefined;
  const mapped = dropNameFor(accountName, settings, lead);
  if (!mapped.ok) return { ok: false, reason: mapped.reason, tell: true };
  return { ok: true, name: { ...n, user, accountName, moduleName: replyName, dropName: mapped.dropName } };
}
