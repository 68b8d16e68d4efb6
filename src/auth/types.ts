// What authentication produces, and what the login pipeline (src/session/) consumes.

export interface AuthUser {
  /** The name the client typed. */
  login: string;
  /** Canonical user name after lowercase_username / imapd_strip_domain / vdomain suffix removal. */
  user: string;
  /** Virtual domain name (vdomain field 3), or undefined for the main domain. */
  domain?: string;
  /** vdomain prefix ('cc'), if any. */
  prefix?: string;
  /** Drop-file base name before hashing: prefix + vdomain_separator + user, invalid_chars encoded. */
  dropName: string;
  /** Absolute drop-file path returned by an external auth module (overrides the computed one). */
  dropPath?: string;
  /** Directory holding this domain's drop files when a vdomain line or alt_drop_path gives one. */
  dropDir?: string;
  /** System identity to run as (undefined: keep the current one). */
  uid?: number;
  gid?: number;
  home?: string;
  /** Per-user quota in kbytes from the auth module's info (quota="KB"). */
  quotaKb?: number;
  /** Info fields from an external module, label="value". */
  info: Record<string, string>;
}

export type AuthOutcome =
  | { ok: true; user: AuthUser }
  /** temporary: module dead / timed out / PAM unavailable → NO [UNAVAILABLE] / -ERR [SYS/TEMP]. */
  /** tell: the reason may be shown to the client (a login name that can never map to a drop file). */
  | { ok: false; temporary: boolean; reason: string; tell?: boolean };

export interface ClientInfo {
  remoteAddress: string;
  remotePort?: number;
  /** The local address of the connection; selects IP-based vdomains. */
  localAddress: string;
  localPort?: number;
  tls: boolean;
}
