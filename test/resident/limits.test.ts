// The resident master's counting and its answers (src/resident/limits.ts), and --listen parsing.
import { describe, expect, it } from 'vitest';
import { defaultSettings } from '../../src/config/parse.js';
import { ConnectionCounts, refusalText } from '../../src/resident/limits.js';
import { parseListen } from '../../src/transport/server-main.js';

describe('resident limits', () => {
  const s = { ...defaultSettings(), resident_max_connections: 3, resident_max_connections_per_ip: 2, resident_max_connections_per_user: 1 };

  it('counts per address, in total and per user, and forgets what ended', () => {
    const c = new ConnectionCounts();
    expect(c.refuseConnection(s, '10.0.0.1')).toBeUndefined();
    c.addConnection('10.0.0.1');
    c.addConnection('10.0.0.1');
    expect(c.refuseConnection(s, '10.0.0.1')).toBe('per-ip');
    expect(c.refuseConnection(s, '10.0.0.2')).toBeUndefined();
    c.addConnection('10.0.0.2');
    expect(c.refuseConnection(s, '10.0.0.3')).toBe('total');
    c.removeConnection('10.0.0.1');
    expect(c.refuseConnection(s, '10.0.0.1')).toBeUndefined();
    expect(c.refuseLogin(s, 'bob')).toBeUndefined();
    c.addUser('bob');
    expect(c.refuseLogin(s, 'bob')).toBe('per-user');
    expect(c.refuseLogin(s, 'carol')).toBeUndefined();
    c.removeUser('bob');
    expect(c.users('bob')).toBe(0);
    expect(c.refuseLogin({ ...s, resident_max_connections_per_user: 0 }, 'bob')).toBeUndefined();
  });

  it('answers IMAP with BYE (and the tagged NO at login) and POP3 with -ERR [SYS/TEMP]', () => {
    expect(refusalText('imapd', 'per-ip')).toBe('* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n');
    expect(refusalText('imapd', 'per-user', 'a1')).toBe('* BYE [UNAVAILABLE] Too many connections for this user, try again later\r\n'
      + 'a1 NO [UNAVAILABLE] Too many connections for this user, try again later\r\n');
    expect(refusalText('dpop', 'total')).toBe('-ERR [SYS/TEMP] Too many connections to this server, try again later\r\n');
    expect(refusalText('imapd', 'workers', 'a2')).toBe('* BYE [UNAVAILABLE] Too many user processes on this server, try again later\r\n'
      + 'a2 NO [UNAVAILABLE] Too many user processes on this server, try again later\r\n');
    expect(refusalText('dpop', 'workers')).toBe('-ERR [SYS/TEMP] Too many user processes on this server, try again later\r\n');
  });

  it('--listen takes ADDR:PORT, [v6]:PORT or PORT', () => {
    expect(parseListen('127.0.0.1:1143')).toEqual({ host: '127.0.0.1', port: 1143 });
    expect(parseListen('[::1]:993')).toEqual({ host: '::1', port: 993 });
    expect(parseListen('143')).toEqual({ host: '0.0.0.0', port: 143 });
    expect(parseListen('host:0')).toBeUndefined();
    expect(parseListen('a:b')).toBeUndefined();
  });
});
