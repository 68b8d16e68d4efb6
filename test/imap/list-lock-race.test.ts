// A folder listing racing the dot-locks of other processes never shows a lock's temporary file as a
// mailbox (mbox store: the lock is link()ed from a temp file beside the folder, store/lock.ts). Found by
// a NOTIFY test that once received `* LIST (\NonExistent) "/" "Box.<host>.<pid>"`. Both a temp file left
// by a process killed while locking, and temp files that exist for an instant while another process
// APPENDs, must stay out of LIST, LSUB-less LIST-EXTENDED and the NOTIFY folder events.
import { describe, expect, it } from 'vitest';
import { imapFixture, last } from './imap-client.js';
import { inetdConnect } from '../helpers/inetd.js';
import { BIN } from '../helpers/site.js';
import { TEST_STORE } from '../maildir/site-store.js';

const fx = imapFixture();
const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const lit = (s: string) => `{${Buffer.byteLength(s)}+}\r\n${s}`;
const names = (lines: string[]) => lines.filter((l) => l.startsWith('* LIST ')).map((l) => l.replace(/^\* LIST \([^)]*\) (NIL|"[^"]*") /, '')).sort();

describe.skipIf(TEST_STORE !== 'mbox')('dot-lock temp files are never mailboxes', () => {
  it('a temp file left by a process killed while locking is not listed, and the folder stays usable', async () => {
    const t = fx.site(1);
    const c = await fx.session(t, 'CREATE Box');
    const victim = await inetdConnect(BIN.imapd, ['-i', t.site.conf], { DMAIL_STORE_KILLPOINT: 'dotlock-temp' });
    fx.onCleanup(() => victim.close());
    await victim.line();
    victim.send('a LOGIN bob secret\r\n');
    expect((await victim.until('a '))[0]).toMatch(/OK/);
    victim.send(`b APPEND Box ${lit(crlf('Subject: killed\n\nbody\n'))}\r\n`);
    await expect(victim.until('b ', 15_000)).rejects.toThrow(/closed/);
    expect(await victim.exited()).not.toBe(0);
    expect(names(await c.cmd('LIST "" "*"'))).toEqual(['Box', 'INBOX']);
    expect(names(await c.cmd('LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)')).filter((n) => n !== 'INBOX')).toEqual([]);
    expect(last(await c.cmd(`APPEND Box ${lit(crlf('Subject: after\n\nbody\n'))}`))).toMatch(/OK/);
    expect((await c.cmd('STATUS Box (MESSAGES)'))[0]).toMatch(/MESSAGES 1\)/);
  });

  it('LIST while another process appends (locking) in a loop shows only the real folders', async () => {
    const t = fx.site(1);
    const lister = await fx.session(t, 'CREATE Box');
    const writer = await fx.session(t);
    let stop = false;
    let appended = 0;
    const writing = (async () => {
      while (!stop) {
        expect(last(await writer.cmd(`APPEND Box ${lit(crlf(`Subject: m${appended}\n\nbody\n`))}`))).toMatch(/OK/);
        appended++;
      }
    })();
    try {
      for (let i = 0; i < 150 || appended < 20; i++) expect(names(await lister.cmd('LIST "" "*"'))).toEqual(['Box', 'INBOX']);
    } finally {
      stop = true;
      await writing;
    }
  });
});
