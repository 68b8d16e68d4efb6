// The master's connection limits (resident_max_connections, _per_ip, _per_user) and the answers a refused
// client gets. Counting only; the master decides when to ask.

import type { Settings } from '../config/settings.js';

export type Limit = 'total' | 'per-ip' | 'per-user';

export class ConnectionCounts {
  total = 0;
  private readonly byIp = new Map<string, number>();
  private readonly byUser = new Map<string, number>();

  /** Which limit a new connection from `ip` would exceed, if any. */
  refuseConnection(s: Settings, ip: string): Limit | undefined {
    if (s.resident_max_connections > 0 && this.total >= s.resident_max_connections) return 'total';
    if (s.resident_max_connections_per_ip > 0 && (this.byIp.get(ip) ?? 0) >= s.resident_max_connections_per_ip) return 'per-ip';
    return undefined;
  }

  /** Whether one more logged-in connection of `user` would exceed its limit. */
  refuseLogin(s: Settings, user: string): Limit | undefined {
    if (s.resident_max_connections_per_user > 0 && (this.byUser.get(user) ?? 0) >= s.resident_max_connections_per_user) return 'per-user';
    return undefined;
  }

  addConnection(ip: string): void {
    this.total++;
    this.byIp.set(ip, (this.byIp.get(ip) ?? 0) + 1);
  }

  removeConnection(ip: string): void {
    this.total = Math.max(0, this.total - 1);
    dec(this.byIp, ip);
  }

  addUser(user: string): void { this.byUser.set(user, (this.byUser.get(user) ?? 0) + 1); }
  removeUser(user: string): void { dec(this.byUser, user); }
  users(user: string): number { return this.byUser.get(user) ?? 0; }
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

const TEXT: Record<Limit | 'worker' | 'workers' | 'unavailable', string> = {
  total: 'Too many connections to this server, try again later',
  'per-ip': 'Too many connections from your address, try again later',
  'per-user': 'Too many connections for this user, try again later',
  worker: 'Too many sessions for this account, try again later',
  workers: 'Too many user processes on this server, try again later',
  unavailable: 'Server temporarily unavailable, try again later',
};

export type Refusal = keyof typeof TEXT;

/** What a refused client reads: before login a goodbye instead of the greeting; at login the answer to
 *  the pending LOGIN/AUTHENTICATE (IMAP: BYE then the tagged NO, as LOGOUT orders them) or PASS. */
export function refusalText(program: 'imapd' | 'dpop', why: Refusal, tag?: string): string {
  const text = TEXT[why];
  if (program === 'dpop') return `-ERR [SYS/TEMP] ${text}\r\n`;
  return `* BYE [UNAVAILABLE] ${text}\r\n${tag ? `${tag} NO [UNAVAILABLE] ${text}\r\n` : ''}`;
}

export function refusalReason(why: Refusal): string { return TEXT[why]; }
