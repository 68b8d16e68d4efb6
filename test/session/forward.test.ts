import { utimesSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { forwardDir, listForward, recordForward } from '../../src/session/forward.js';
import { cleanupTempDirs, tempDir } from '../auth/helpers.js';

afterEach(cleanupTempDirs);

describe('forward_user records', () => {
  it('records the client IP per login, expires after forward_window, and refuses non-IPs', () => {
    const work = tempDir();
    expect(recordForward(work, '::ffff:192.0.2.7', 'bob', 'imapd')).toBe(true);
    expect(recordForward(work, '2001:db8::1', 'carol', 'dpop')).toBe(true);
    expect(recordForward(work, '../../etc/passwd', 'evil', 'dpop')).toBe(false);
    const live = listForward(work, 1800);
    expect(live.map((r) => r.ip).sort()).toEqual(['192.0.2.7', '2001:db8::1']);
    expect(live.find((r) => r.ip === '192.0.2.7')).toMatchObject({ user: 'bob', program: 'imapd' });
    // Age one record past the window: it is no longer live and is removed when expiring.
    const old = new Date(Date.now() - 3600_000);
    utimesSync(join(forwardDir(work), '192.0.2.7'), old, old);
    expect(listForward(work, 1800, { expire: true }).map((r) => r.ip)).toEqual(['2001:db8::1']);
    expect(readdirSync(forwardDir(work))).toEqual(['2001:db8::1']);
    // A new login renews the record.
    recordForward(work, '192.0.2.7', 'bob', 'dpop');
    expect(listForward(work, 1800)).toHaveLength(2);
  });
});
