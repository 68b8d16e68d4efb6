// The one registry of dmail.conf settings we read: name, kind, default, and which programs use it.
// DMail facts come from ../shared/dmail-reference.md §8; settings marked NEW are ours (documented in
// dmail.conf.example). Every other module reads settings through the `Settings` type derived from here.

export type Program = 'imapd' | 'dpop' | 'dmailctl';

type Kind = 'string' | 'int' | 'bool' | 'path' | 'list' | 'quota' | 'float' | 'loglevel' | 'authmethod' | 'logto' | 'facility';

interface Spec {
  kind: Kind;
  /** Default value; `undefined` means "unset". Lists default to []. */
  def?: unknown;
  /** Repeatable: every line adds a value (host_domain, vdomain, ...). */
  multi?: boolean;
  /** Accepts comma-separated values on one line as well as repeated lines. */
  comma?: boolean;
  doc: string;
}

const S = <K extends Kind, D = undefined>(kind: K, doc: string, def?: D, extra: Partial<Spec> = {}) =>
  ({ kind, doc, def: def as D, ...extra }) as { kind: K; doc: string; def: D } & Partial<Spec>;

export const SETTINGS = {
  // --- paths and storage (DMail) ---
  drop_path: S('path', 'directory of drop files (INBOX mbox files)', '/var/spool/mail'),
  hash_spool: S('int', 'drop-file directory hashing: 0, 1 or 2 levels', 0),
  hash_scheme: S('string', 'NEW: name of the hash_spool scheme (see dmailctl spool detect)', 'chars'),
  imapd_enable_new_hashing: S('bool', 'false = pre-4.4.3y hashing (dot as second char not special)', true),
  lowercase_username: S('bool', 'fold login names to lower case', false),
  lowercase_password: S('bool', 'fold passwords to lower case before checking', false),
  invalid_chars: S('string', 'characters %XX-encoded in drop-file names', '/'),
  allow_dds: S('bool', 'allow ../ in user names (we never allow a path to leave the spool)', false),
  drop_prefix: S('bool', 'use the vdomain prefix as a directory of the drop path', false),
  alt_drop_path: S('list', '<domain> <path>: other drop directory for one domain', [], { multi: true }),
  imapd_mailbox_name: S('string', 'folder directory in unix users\' home directory (unset: <drop>.mbx)'),
  index_path: S('path', 'NEW: where per-mailbox indexes live (unset: <folder dir>/.imapd-index)'),
  use_maildir: S('bool', 'store INBOX and folders as maildir', false),
  maildir_home: S('path', 'maildir root'),
  maildir_althome: S('list', '<vdomain> <path>: maildir root for one vdomain', [], { multi: true }),
  maildir_suffix: S('bool', 'add .mdir to maildir directory names', true),
  use_drop: S('bool', 'DPOP: for converting to maildir (read, not used)', false),
  drop_users: S('list', 'DPOP: users whose mail is kept in drop files (read, not used)', [], { multi: true, comma: true }),
  lock_id: S('string', 'per-host lock id for NFS/cluster dot-locks'),
  use_flock: S('bool', 'also take flock() on spools', false),
  lock_timeout: S('int', 'NEW: seconds to wait for a spool lock before failing', 30),
  lock_stale: S('int', 'NEW: seconds after which a dot-lock is stale and broken', 300),
  drop_max: S('int', 'DSMTP: largest drop file in kbytes (read, not used)'),
  min_space: S('int', 'minimum free MB; below it writes are refused', 0),

  // --- authentication and users ---
  authent_method: S('authmethod', 'unix_user | external', 'unix_user'),
  authent_process: S('path', 'external authentication program'),
  imapd_authent_process: S('path', 'IMAPD-only external authentication program'),
  authent_timeout: S('int', 'seconds per external-auth request', 10),
  authent_domain: S('bool', 'send user@domain to the auth module', false),
  authent_cache: S('int', 'external auth cache size (per-connection servers do not cache)', 1000),
  authent_number: S('int', 'DPOP auth pool size (read, not used: one child per connection)', 2),
  auth_nocache: S('bool', 'disable auth cache (read, not used)', false),
  imapd_become_user: S('bool', 'switch to the user\'s uid after login', true),
  allow_root_login: S('bool', 'NEW: allow a login that would run as root', false),
  allow_root_group: S('bool', 'NEW: allow a non-root session to run in group 0 (auth module gid="0" or an account whose group is 0)', false),
  mail_user: S('string', 'NEW: system user to run as for external users without a uid'),
  imapd_strip_domain: S('string', 'remove this trailing text from login names'),
  host_domain: S('list', 'local domains; first is the main one', [], { multi: true }),
  vdomain: S('list', '<prefix> <@suffix|IP> <domain> [path]: virtual domain', [], { multi: true }),
  vdomain_separator: S('string', 'character between vdomain prefix and user name', '_'),
  vdomain_passwd: S('list', '<domain> <passwd file>: passwd-format users for a vdomain', [], { multi: true }),
  valid_users: S('list', 'user names allowed to log in (wildcards); empty: all', [], { multi: true, comma: true }),
  user_ip_address: S('list', 'client IPs allowed to connect (wildcards); empty: all', [], { multi: true, comma: true }),
  lookup_names: S('bool', 'reverse DNS in connection checks', false),
  apop_enable: S('bool', 'offer APOP', false),
  apop_secrets: S('path', 'NEW: file of "user secret" lines for APOP'),
  pam_service: S('string', 'NEW: PAM service for unix_user passwords', 'dmail'),
  login_disabled: S('bool', 'NEW: refuse plaintext logins before TLS (LOGINDISABLED)', false),
  auth_fail_delay: S('float', 'NEW: seconds to wait before answering a failed login', 2),
  auth_max_failures: S('int', 'NEW: failed logins before disconnect', 3),
  ip_failure_window: S('int', 'NEW: seconds failed logins from one client address are remembered across connections (0: no per-address delay)', 900),
  ip_failure_delay_max: S('int', 'NEW: longest per-address delay in seconds before a login is checked', 30),

  // --- quota, bulletins, relaying ---
  user_quota: S('quota', 'false | true | default quota in kbytes', false),
  bulletin_path: S('path', 'directory of nnn.txt bulletins'),
  bulletin_from: S('string', 'From text of bulletins', 'Email System Administrator'),
  hide_old_bulls: S('bool', 'new users skip bulletins that already exist', false),
  add_status: S('bool', 'mark messages read (Status: R) when POP3 retrieves them', true),
  forward_user: S('bool', 'POP-before-SMTP: record client IPs after login', false),
  forward_window: S('int', 'seconds a login allows relaying', 1800),

  // --- logging and work files ---
  work_path: S('path', 'work directory (forward records, sessions)', '/var/lib/dmail'),
  log_path: S('path', 'log directory (default work_path)'),
  log_level: S('loglevel', 'error | info | debug', 'info'),
  log_to: S('logto', 'NEW: file | syslog | both (file falls back to syslog when it cannot be opened)', 'file'),
  syslog_facility: S('facility', 'NEW: syslog facility: mail, daemon, user, local0 .. local7', 'mail'),
  max_log_size: S('int', 'bytes before a log file is rotated', 10_000_000),
  rotated_logs: S('int', 'rotated log files kept (.1 .. .N)', 5),
  max_loglen: S('int', 'longest logged line', 1000),
  stats_path: S('path', 'per-connection statistics (read, not used)'),

  // --- network, TLS and timeouts ---
  dpop_host: S('string', 'host name shown in greetings (default: hostname)'),
  pop_port: S('int', 'POP3 port (inetd decides the port; read only)', 110),
  imapd_timeout: S('int', 'idle seconds after login', 1800),
  imapd_login_timeout: S('int', 'NEW: idle seconds before login', 180),
  login_lifetime: S('int', 'NEW: seconds a connection may stay unauthenticated, active or not (0: no limit)', 180),
  pop_timeout: S('int', 'NEW: POP3 idle seconds', 600),
  tls_cert: S('path', 'NEW: PEM certificate chain for STARTTLS/STLS and implicit TLS'),
  tls_key: S('path', 'NEW: PEM private key'),
  tls_ciphers: S('string', 'NEW: OpenSSL cipher list'),
  tls_min_version: S('string', 'NEW: TLSv1.2 or TLSv1.3', 'TLSv1.2'),
  max_output_buffer: S('int', 'NEW: bytes of unsent output before a client that stops reading is dropped', 16 * 1024 * 1024),
  max_line_length: S('int', 'NEW: longest command line in bytes', 65536),
  append_limit: S('int', 'NEW: largest APPEND literal in bytes', 64 * 1024 * 1024),

  // --- resident mode (imapd/dpop started with a listening socket: --daemon, systemd Accept=no) ---
  resident_prelogin_processes: S('int', 'NEW: resident mode: unprivileged pre-login processes kept running', 1),
  resident_prelogin_user: S('string', 'NEW: resident mode: account the pre-login processes run as (its uid and gid, no other groups)', 'nobody'),
  resident_max_connections: S('int', 'NEW: resident mode: connections served at once (0: no limit)', 1000),
  resident_max_connections_per_ip: S('int', 'NEW: resident mode: connections at once from one client address (0: no limit)', 50),
  resident_max_connections_per_user: S('int', 'NEW: resident mode: logged-in connections at once of one user (0: no limit)', 20),
  resident_worker_sessions: S('int', 'NEW: resident mode: sessions one worker process serves at once', 200),
  resident_workers_per_uid: S('int', 'NEW: resident mode: worker processes at most for one uid (a shared mail uid of virtual users)', 4),
  resident_worker_idle: S('int', 'NEW: resident mode: seconds a worker without sessions stays before it exits', 60),
  resident_spare_workers: S('int', 'NEW: resident mode: workers forked ahead of need (as root, no uid yet), bound to a uid at the first login of a new uid', 0),
  resident_max_workers: S('int', 'NEW: resident mode: worker processes at most, all uids together, spares not counted (0: no limit)', 500),
  resident_cache_size: S('int', 'NEW: resident mode: bytes of cached mailbox data a worker keeps for mailboxes no session has open (0: none)', 16 * 1024 * 1024),

  // --- includes ---
  imapd_include_level: S('int', 'levels of #include that imapd follows', 0),

  // --- DPOP daemon settings read for compatibility only ---
  bin_path: S('path', 'DPOP bin directory (read, not used)'),
  bin_pfull: S('float', 'DPOP compaction threshold (read, not used)', 0.5),
  hash_bindir: S('bool', 'DPOP bin hashing (read, not used)', false),
  dpop_path: S('path', 'DPOP install directory (read, not used)'),
  dwatch_path: S('path', 'DWatch directory (read, not used)'),
  manager_ip_address: S('list', 'tellpop manager IPs (read, not used)', [], { multi: true, comma: true }),
  manager_ip_name: S('list', 'tellpop manager names (read, not used)', [], { multi: true, comma: true }),
  manager_password: S('string', 'obsolete (read, not used)'),
  forward_from_ip: S('list', 'DSMTP relay IPs (read, not used)', [], { multi: true, comma: true }),
  hide_auth: S('string', 'DSMTP setting (read, not used)'),
  allowdup: S('bool', 'DSMTP setting (read, not used)', true),
  alias_file: S('path', 'DSMTP setting (read, not used)'),
  alias_file_domain: S('list', 'DSMTP setting (read, not used)', [], { multi: true }),
} satisfies Record<string, Spec>;

export type SettingName = keyof typeof SETTINGS;

type ValueOf<K extends Kind> =
  K extends 'int' | 'float' ? number :
  K extends 'bool' ? boolean :
  K extends 'list' ? string[] :
  K extends 'quota' ? false | number :  // false = off; number = default kbytes (true → 0 = no default limit)
  K extends 'loglevel' ? 'error' | 'info' | 'debug' :
  K extends 'authmethod' ? 'unix_user' | 'external' | 'nt_user' :
  K extends 'logto' ? 'file' | 'syslog' | 'both' :
  string;

type Defaulted<N extends SettingName> = undefined extends (typeof SETTINGS)[N]['def'] ? undefined : never;

/** Parsed settings. Unset optional settings are `undefined`. */
export type Settings = {
  -readonly [N in SettingName]: ValueOf<(typeof SETTINGS)[N]['kind']> | Defaulted<N>;
};

export interface SettingSpec extends Spec {}
export const settingSpec = (name: string): SettingSpec | undefined =>
  (SETTINGS as Record<string, Spec>)[name.toLowerCase()];
