// mutt (Debian), driven headless through script(1) for a terminal: it opens INBOX over IMAP, tags a
// message by subject, copies it into a new folder, deletes it and syncs (EXPUNGE) before quitting.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Listener } from '../helpers/listener.js';
import { connectImap, imapdOverTcp, type TestSite } from '../imap/imap-client.js';

let t: TestSite;
let l: Listener;
imapdOverTcp(3, (site, listener) => { t = site; l = listener; });

/** Asynchronous on purpose: the listener that starts imapd runs in this process's event loop. */
function run(cmd: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: t.site.dir, TERM: 'vt100', LANG: 'C' }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('close', (code) => { clearTimeout(timer); resolve(code); });
  });
}

describe('mutt', () => {
  it('copies, deletes and expunges through IMAP', async () => {
    const rc = join(t.site.dir, 'muttrc');
    writeFileSync(rc, [
      `set folder="imap://bob:secret@127.0.0.1:${l.port}/"`, 'set spoolfile="+INBOX"', 'set ssl_starttls=no', 'set ssl_force_tls=no',
      'set mail_check=0', 'set move=no', 'set confirmappend=no', 'set confirmcreate=no', 'set delete=yes', 'set quit=yes',
      'set header_cache=""', 'set message_cachedir=""', '',
    ].join('\n'));
    const keys = '<tag-pattern>~s "message 2"<enter><tag-prefix><copy-message>=Copied<enter><tag-prefix><delete-message><sync-mailbox><quit>';
    const code = await run('script', ['-qec', `mutt -n -F ${rc} -e 'push "${keys.replace(/"/g, '\\"')}"'`, '/dev/null']);
    expect(code).toBe(0);
    const s = await connectImap(t.site);
    await s.login();
    expect((await s.cmd('STATUS INBOX (MESSAGES)'))[0]).toMatch(/MESSAGES 2\)/);
    await s.cmd('EXAMINE Copied');
    const f = await s.cmd('FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    expect(f.filter((x) => x.startsWith('Subject:'))).toEqual(['Subject: Test message 2']);
    s.close();
  });
});
