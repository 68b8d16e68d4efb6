// Issue 13, weakness "log scrubbing": credentials are scrubbed precisely — the server's own diagnostics
// ("auth module timed out; killing it") stay readable, and POP3 debug logs record neither a password
// nor its length. Unit checks of the scrubber, then the real built dpop and imapd at log_level debug.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inetdConnect } from '../helpers/inetd.js';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';
import { scrubText } from '../../src/log/logger.js';

const sites: Site[] = [];
afterAll(() => { for (const s of sites) removeSite(s.dir); });

describe('scrubText', () => {
  it('hides credentials of real command lines', () => {
    expect(scrubText('a1 LOGIN bob hunter2')).toBe('a1 LOGIN bob [redacted]');
    expect(scrubText('a2 login "bob smith" "hunter 3"')).toBe('a2 login "bob smith" [redacted]');
    expect(scrubText('a3 AUTHENTICATE PLAIN AGJvYgBodW50ZXI1')).toBe('a3 AUTHENTICATE PLAIN [redacted]');
    expect(scrubText('PASS hunter 4')).toBe('PASS [redacted]');
    expect(scrubText('pass hunter4')).toBe('pass [redacted]');
    expect(scrubText('AUTH PLAIN AGJvYgBodW50ZXI2')).toBe('AUTH PLAIN [redacted]');
    expect(scrubText('auth plain AGJvYgBodW50ZXI=')).toBe('auth plain [redacted]');
    expect(scrubText('APOP bob c4c9334bac560ecc979e58001b3e22fb')).toBe('APOP bob [redacted]');
  });

  it('keeps the server\'s own messages', () => {
    for (const m of ['auth module timed out; killing it', 'auth module failed to start', 'auth module exited during a request',
      'auth module sent garbage; killing it', 'auth module wrote without a request; restarting it', 'authentication error',
      'login failed', 'login refused', 'login failed for bob', 'auth module dead']) {
      expect(scrubText(m)).toBe(m);
    }
  });
});

describe('the real servers at log_level debug', () => {
  it('dpop logs neither a password nor its length, whatever way it came', async () => {
    const s = makeSite();
    sites.push(s);
    const password = 'Correct-Horse-7';
    s.addUser('bob', { pass: password });
    const c = await inetdConnect(BIN.dpop, ['-i', s.conf]);
    await c.line();
    c.send(`USER bob\r\nPASS wrong-${password}\r\n`);
    await c.line();
    expect(await c.line()).toMatch(/^-ERR/);
    c.send(`PASS ${password}\r\n`); // a confused client: PASS without USER
    expect(await c.line()).toMatch(/^-ERR/);
    c.send(`${password}\r\n`); // its password as a line of its own
    expect(await c.line()).toMatch(/^-ERR/);
    c.send(`USER bob\r\nPASS ${password}\r\n`);
    await c.line();
    expect(await c.line()).toMatch(/^\+OK/);
    c.send('QUIT\r\n');
    await c.line();
    await c.exited();
    const log = readFileSync(join(s.logs, 'dpop.log'), 'utf8');
    expect(log).not.toContain(password);
    expect(log).not.toMatch(/argsLength|"length":\s*(15|21)\b/);
    expect(log).toContain('"cmd":"PASS"');
  });

  it('imapd keeps "auth module timed out; killing it" readable', async () => {
    const s = makeSite();
    sites.push(s);
    const module = join(s.dir, 'slow.sh');
    writeFileSync(module, '#!/bin/sh\nwhile read cmd rest; do sleep 1000; done\n');
    chmodSync(module, 0o755);
    s.setConfig({ authent_process: module, authent_timeout: 1 });
    const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    await c.line();
    c.send('a LOGIN bob Secret-Pass-9\r\n');
    expect((await c.until('a ')).at(-1)).toMatch(/^a NO \[UNAVAILABLE\]/);
    c.send('b LOGOUT\r\n');
    await c.until('b ');
    await c.exited();
    const log = readFileSync(join(s.logs, 'imapd.log'), 'utf8');
    expect(log).toContain('"msg":"auth module timed out; killing it"');
    expect(log).not.toContain('[redacted]"');
    expect(log).not.toContain('Secret-Pass-9');
  });
});
