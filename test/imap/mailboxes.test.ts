// Mailbox commands against the real binary and a real spool: CREATE, DELETE, RENAME (incl. INBOX),
// SUBSCRIBE/LSUB, LIST patterns and attributes, STATUS, hostile and international names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';
import { TEST_STORE } from '../maildir/site-store.js';

let t: TestSite;
let s: Imap;
beforeAll(async () => {
  t = siteWithMessages(2);
  s = await connectImap(t.site);
  await s.login();
});
afterAll(() => {
  s.close();
  t.cleanup();
});

const listNames = (lines: string[]) =>
  lines.filter((l) => l.startsWith('* LIST') || l.startsWith('* LSUB')).map((l) => l.replace(/^\* (LIST|LSUB) \([^)]*\) "\/" /, '').replace(/^"(.*)"$/, '$1'));

describe('mailbox management', () => {
  it('creates folders, nested ones and lists them with CHILDREN attributes', async () => {
    expect(last(await s.cmd('CREATE Work'))).toMatch(/OK CREATE completed/);
    expect(last(await s.cmd('CREATE Projects/2024/Q1'))).toMatch(/OK/);
    expect(last(await s.cmd('CREATE Sent'))).toMatch(/OK/);
    expect(last(await s.cmd('CREATE Work'))).toMatch(/NO \[ALREADYEXISTS\]/);
    expect(last(await s.cmd('CREATE inbox'))).toMatch(/NO/);
    const all = await s.cmd('LIST "" "*"');
    expect(listNames(all).sort()).toEqual(['INBOX', 'Projects', 'Projects/2024', 'Projects/2024/Q1', 'Sent', 'Work'].sort());
    expect(all.find((l) => l.endsWith(' Projects') || l.endsWith('"Projects"'))).toMatch(/\\HasChildren/);
    expect(all.find((l) => /Work"?$/.test(l))).toMatch(/\\HasNoChildren/);
    expect(all.find((l) => /Sent"?$/.test(l))).toMatch(/\\Sent/);
    const top = await s.cmd('LIST "" "%"');
    expect(listNames(top).sort()).toEqual(['INBOX', 'Projects', 'Sent', 'Work']);
    const sub = await s.cmd('LIST "Projects/" "%"');
    expect(listNames(sub)).toEqual(['Projects/2024']);
    const delim = await s.cmd('LIST "" ""');
    expect(delim[0]).toBe('* LIST (\\Noselect) "/" ""');
    expect(listNames(await s.cmd('list "" inBOX'))).toEqual(['INBOX']);
  });

  it('CREATE with a trailing delimiter makes a folder for folders (DMail: parent first)', async () => {
    expect(last(await s.cmd('CREATE Parent/'))).toMatch(/OK/);
    const l = await s.cmd('LIST "" "Parent"');
    // A Maildir++ folder always holds both messages and folders, so there it is selectable (as in Dovecot).
    expect(l[0]).toMatch(TEST_STORE === 'mbox' ? /^\* LIST \(\\Noselect/ : /^\* LIST \(\\Has(No)?Children\) "\/" Parent$/);
    expect(last(await s.cmd('CREATE Parent/Child'))).toMatch(/OK/);
    expect(last(await s.cmd('SELECT Parent/Child'))).toMatch(/OK/);
    await s.cmd('UNSELECT');
    expect(last(await s.cmd('DELETE Parent/Child'))).toMatch(/OK/);
    expect(last(await s.cmd('DELETE Parent'))).toMatch(/OK/);
  });

  it('STATUS reports counts for INBOX and a folder', async () => {
    const st = await s.cmd('STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)');
    expect(st[0]).toMatch(/^\* STATUS INBOX \(MESSAGES 2 UNSEEN 2 UIDNEXT \d+ UIDVALIDITY \d+ RECENT \d+\)$/);
    expect((await s.cmd('STATUS Work (MESSAGES)'))[0]).toMatch(/^\* STATUS "?Work"? \(MESSAGES 0\)$/);
    expect(last(await s.cmd('STATUS Nope (MESSAGES)'))).toMatch(/^t\d+ NO/);
    expect(last(await s.cmd('STATUS INBOX (BOGUS)'))).toMatch(/BAD/);
    expect(last(await s.cmd('STATUS INBOX ()'))).toMatch(/BAD/);
  });

  it('renames folders and INBOX (INBOX stays, emptied)', async () => {
    expect(last(await s.cmd('RENAME Work Play'))).toMatch(/OK RENAME completed/);
    expect(last(await s.cmd('RENAME Nope Other'))).toMatch(/NO/);
    expect(last(await s.cmd('RENAME Play INBOX'))).toMatch(/NO/);
    expect(last(await s.cmd('RENAME INBOX Old-Inbox'))).toMatch(/OK/);
    expect((await s.cmd('STATUS Old-Inbox (MESSAGES)'))[0]).toMatch(/MESSAGES 2/);
    expect((await s.cmd('STATUS INBOX (MESSAGES)'))[0]).toMatch(/MESSAGES 0/);
  });

  it('subscribes and lists subscriptions with LSUB', async () => {
    expect(last(await s.cmd('SUBSCRIBE Play'))).toMatch(/OK SUBSCRIBE completed/);
    expect(last(await s.cmd('SUBSCRIBE Projects/2024/Q1'))).toMatch(/OK/);
    expect(listNames(await s.cmd('LSUB "" "*"')).sort()).toEqual(['Play', 'Projects/2024/Q1']);
    const pct = await s.cmd('LSUB "" "%"');
    expect(pct.find((l) => l.includes('Projects'))).toMatch(/\\Noselect/);
    expect(last(await s.cmd('UNSUBSCRIBE Play'))).toMatch(/OK/);
    expect(listNames(await s.cmd('LSUB "" "*"'))).toEqual(['Projects/2024/Q1']);
  });

  it('tolerates LIST-EXTENDED syntax (selection, several patterns, RETURN)', async () => {
    const sub = await s.cmd('LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)');
    expect(listNames(sub)).toEqual(['Projects/2024/Q1']);
    expect(sub[0]).toContain('\\Subscribed');
    const special = await s.cmd('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)');
    expect(listNames(special)).toEqual(['Sent']);
    const multi = await s.cmd('LIST "" ("INBOX" "Sent") RETURN (SUBSCRIBED STATUS (MESSAGES))');
    expect(listNames(multi)).toEqual(['INBOX', 'Sent']);
    expect(last(await s.cmd('LIST "" "*" NOTRETURN ()'))).toMatch(/BAD/);
  });

  it('deletes folders, refuses INBOX and missing ones', async () => {
    expect(last(await s.cmd('DELETE Play'))).toMatch(/OK DELETE completed/);
    expect(last(await s.cmd('DELETE Play'))).toMatch(/NO/);
    expect(last(await s.cmd('DELETE INBOX'))).toMatch(/NO/);
    expect(listNames(await s.cmd('LIST "" "*"'))).not.toContain('Play');
  });

  it('refuses hostile names and accepts international ones in modified UTF-7', async () => {
    for (const bad of ['../../etc', '"/etc/passwd"', '~root', '"a/../b"', '"&Jjo!"']) {
      expect(last(await s.cmd(`CREATE ${bad}`)), bad).toMatch(/^t\d+ (NO|BAD)/);
    }
    expect(last(await s.cmd('CREATE "Entw&APw-rfe"'))).toMatch(/OK/);
    const l = await s.cmd('LIST "" "Entw*"');
    expect(listNames(l)).toEqual(['Entw&APw-rfe']);
  });
});
