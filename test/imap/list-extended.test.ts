// LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154) over
// the real bin/imapd on both stores: every example of RFC 5258 §5, the examples of RFC 5819 §2 and
// RFC 6154 §5, adapted to our namespace ("" with "/" as delimiter, INBOX in capitals) and to what each
// store can hold: an mbox folder holds messages or folders (UW), so a parent is a \Noselect directory
// there and a leaf is \NoInferiors; a Maildir++ folder holds both. We return \HasChildren or
// \HasNoChildren on every LIST response (RFC 5258 lets a server send them unasked).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';
import { TEST_STORE } from '../maildir/site-store.js';

const MBOX = TEST_STORE === 'mbox';
const INBOX = MBOX ? ['\\NoInferiors', '\\HasNoChildren'] : ['\\HasNoChildren'];
/** A mailbox that has children: a directory in mbox. */
const PARENT = MBOX ? ['\\Noselect', '\\HasChildren'] : ['\\HasChildren'];
/** A mailbox without children. */
const LEAF = MBOX ? ['\\NoInferiors', '\\HasNoChildren'] : ['\\HasNoChildren'];

interface Entry { name: string; attrs: string[]; ext: string }

/** The LIST responses of a command, in order (names unquoted). */
function entries(lines: string[]): Entry[] {
  return lines.filter((l) => l.startsWith('* LIST ')).map((l) => {
    const m = /^\* LIST \(([^)]*)\) "\/" ("(?:[^"\\]|\\.)*"|[^ ]+)(?: (.*))?$/.exec(l);
    if (!m) throw new Error(`bad LIST line ${l}`);
    return { name: m[2]!.replace(/^"(.*)"$/, '$1'), attrs: m[1]!.split(' ').filter(Boolean).sort(), ext: m[3] ?? '' };
  });
}

const CHILDINFO = '("CHILDINFO" ("SUBSCRIBED"))';
/** Expected entry: name, attributes (any order), extended data. */
const e = (name: string, attrs: string[], ext = ''): Entry => ({ name, attrs: [...attrs].sort(), ext });

let t: TestSite;
const sessions: Imap[] = [];
beforeAll(() => {
  t = siteWithMessages(3);
  for (const u of ['carol', 'dave', 'erin', 'frank', 'gina', 'hank']) t.site.addUser(u, { pass: 'pw' });
});
afterAll(() => {
  for (const s of sessions) s.close();
  t.cleanup();
});

async function session(user: string, pass = 'pw', ...setup: string[]): Promise<Imap> {
  const s = await connectImap(t.site);
  sessions.push(s);
  expect(last(await s.login(user, pass))).toMatch(/OK/);
  for (const c of setup) expect(last(await s.cmd(c)), c).toMatch(/OK/);
  return s;
}

async function list(s: Imap, cmd: string): Promise<Entry[]> {
  const r = await s.cmd(cmd);
  expect(last(r), cmd).toMatch(/^t\d+ OK/);
  return entries(r);
}

describe('capabilities', () => {
  it('advertises LIST-EXTENDED, LIST-STATUS, SPECIAL-USE and CREATE-SPECIAL-USE', async () => {
    const s = await session('bob', 'secret');
    const caps = (await s.cmd('CAPABILITY'))[0]!.split(' ');
    for (const c of ['LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE', 'CREATE-SPECIAL-USE', 'CHILDREN']) expect(caps).toContain(c);
  });
});

describe('RFC 5258 §5 examples', () => {
  // The hierarchy of examples 1-6 (user carol): INBOX, Fruit, Fruit/Apple, Fruit/Banana, Tofu,
  // Vegetable, Vegetable/Broccoli, Vegetable/Corn; subscribed: INBOX, Fruit/Banana, Fruit/Peach (no
  // such mailbox), Vegetable, Vegetable/Broccoli.
  let s: Imap;
  beforeAll(async () => {
    s = await session('carol', 'pw',
      ...(MBOX ? ['CREATE Fruit/', 'CREATE Vegetable/'] : ['CREATE Fruit', 'CREATE Vegetable']),
      'CREATE Fruit/Apple', 'CREATE Fruit/Banana', 'CREATE Tofu', 'CREATE Vegetable/Broccoli', 'CREATE Vegetable/Corn',
      'SUBSCRIBE INBOX', 'SUBSCRIBE Fruit/Banana', 'SUBSCRIBE Fruit/Peach', 'SUBSCRIBE Vegetable', 'SUBSCRIBE Vegetable/Broccoli');
  });

  it('1: the complete hierarchy', async () => {
    expect(await list(s, 'LIST "" "*"')).toEqual([
      e('INBOX', INBOX), e('Fruit', PARENT), e('Fruit/Apple', LEAF), e('Fruit/Banana', LEAF), e('Tofu', LEAF),
      e('Vegetable', PARENT), e('Vegetable/Broccoli', LEAF), e('Vegetable/Corn', LEAF),
    ]);
  });

  const subscribedList = () => [
    e('INBOX', [...INBOX, '\\Subscribed']), e('Fruit/Banana', [...LEAF, '\\Subscribed']),
    e('Fruit/Peach', ['\\NonExistent', '\\HasNoChildren', '\\Subscribed']),
    e('Vegetable', [...PARENT, '\\Subscribed']), e('Vegetable/Broccoli', [...LEAF, '\\Subscribed']),
  ];

  it('2: LIST (SUBSCRIBED) lists subscribed names, \\NonExistent for one that is no mailbox', async () => {
    expect(await list(s, 'LIST (SUBSCRIBED) "" "*"')).toEqual(subscribedList());
  });

  it('3: RETURN (CHILDREN) on the top level', async () => {
    const top = [e('INBOX', INBOX), e('Fruit', PARENT), e('Tofu', LEAF), e('Vegetable', PARENT)];
    expect(await list(s, 'LIST () "" "%" RETURN (CHILDREN)')).toEqual(top);
    // 4: REMOTE adds remote mailboxes; this server has none.
    expect(await list(s, 'LIST (REMOTE) "" "%" RETURN (CHILDREN)')).toEqual(top);
  });

  it('5: (REMOTE SUBSCRIBED) is (SUBSCRIBED) without remote mailboxes', async () => {
    expect(await list(s, 'LIST (REMOTE SUBSCRIBED) "" "*"')).toEqual(subscribedList());
  });

  it('6: RETURN (SUBSCRIBED) marks subscribed mailboxes, lists no subscribed name that is no mailbox', async () => {
    expect(await list(s, 'LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)')).toEqual([
      e('INBOX', [...INBOX, '\\Subscribed']), e('Fruit', PARENT), e('Fruit/Apple', LEAF), e('Fruit/Banana', [...LEAF, '\\Subscribed']),
      e('Tofu', LEAF), e('Vegetable', [...PARENT, '\\Subscribed']), e('Vegetable/Broccoli', [...LEAF, '\\Subscribed']),
      e('Vegetable/Corn', LEAF),
    ]);
  });

  describe('7: \\HasChildren versus CHILDINFO (user dave: Foo, Foo/Bar, Foo/Baz, Moo)', () => {
    let d: Imap;
    beforeAll(async () => {
      d = await session('dave', 'pw', ...(MBOX ? ['CREATE Foo/'] : ['CREATE Foo']), 'CREATE Foo/Bar', 'CREATE Foo/Baz', 'CREATE Moo');
    });

    it('RETURN (CHILDREN)', async () => {
      expect(await list(d, 'LIST "" "%" RETURN (CHILDREN)')).toEqual([e('INBOX', INBOX), e('Foo', PARENT), e('Moo', LEAF)]);
    });

    it('A: only Foo/Baz subscribed; RECURSIVEMATCH lists Foo with CHILDINFO', async () => {
      expect(last(await d.cmd('SUBSCRIBE Foo/Baz'))).toMatch(/OK/);
      expect(await list(d, 'LIST (SUBSCRIBED) "" "*"')).toEqual([e('Foo/Baz', [...LEAF, '\\Subscribed'])]);
      expect(await list(d, 'LIST (SUBSCRIBED) "" "%"')).toEqual([]);
      expect(await list(d, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')).toEqual([e('Foo', PARENT, CHILDINFO)]);
    });

    it('A1: Foo subscribed too', async () => {
      expect(last(await d.cmd('SUBSCRIBE Foo'))).toMatch(/OK/);
      expect(await list(d, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')).toEqual([e('Foo', [...PARENT, '\\Subscribed'], CHILDINFO)]);
      expect(last(await d.cmd('UNSUBSCRIBE Foo'))).toMatch(/OK/);
    });

    it('B: nothing subscribed: RECURSIVEMATCH lists nothing although Foo has children', async () => {
      expect(last(await d.cmd('UNSUBSCRIBE Foo/Baz'))).toMatch(/OK/);
      expect(await list(d, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')).toEqual([]);
    });

    it('C: Foo and Moo subscribed: no CHILDINFO, as no child of Foo is', async () => {
      expect(last(await d.cmd('SUBSCRIBE Foo'))).toMatch(/OK/);
      expect(last(await d.cmd('SUBSCRIBE Moo'))).toMatch(/OK/);
      expect(await list(d, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')).toEqual([
        e('Foo', [...PARENT, '\\Subscribed']), e('Moo', [...LEAF, '\\Subscribed']),
      ]);
    });
  });

  it('7 A2: Foo not in the hierarchy (only Foo/Bar, Foo/Baz; user erin)', async () => {
    const x = await session('erin', 'pw', 'CREATE Foo/Bar', 'CREATE Foo/Baz', 'SUBSCRIBE Foo/Baz');
    // mbox keeps a parent as a directory, which exists (\Noselect); Maildir++ has no parent at all.
    const foo = MBOX ? PARENT : ['\\NonExistent', '\\HasChildren'];
    expect(await list(x, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')).toEqual([e('Foo', foo, CHILDINFO)]);
  });

  describe('8: CHILDINFO whether or not the children match the pattern (user frank)', () => {
    let f: Imap;
    const subs = ['foo2/bar1', 'foo2/bar2', 'baz2/bar2', 'baz2/bar22', 'baz2/bar222', 'eps2', 'eps2/mamba', 'qux2/bar2'];
    beforeAll(async () => {
      f = await session('frank', 'pw',
        ...(MBOX ? ['CREATE foo2/', 'CREATE baz2/'] : ['CREATE foo2', 'CREATE baz2']),
        'CREATE foo2/bar1', 'CREATE foo2/bar2', 'CREATE baz2/bar2', 'CREATE baz2/bar22', 'CREATE baz2/bar222',
        // mbox: eps2 holds messages, so it cannot hold eps2/mamba: there it is a subscribed name only.
        ...(MBOX ? ['CREATE eps2'] : ['CREATE eps2', 'CREATE eps2/mamba']),
        'CREATE qux2/bar2',
        ...subs.map((n) => `SUBSCRIBE ${n}`));
    });
    const eps2 = MBOX ? LEAF : PARENT;
    const mamba = MBOX ? ['\\NonExistent', '\\HasNoChildren'] : LEAF;
    const qux2 = MBOX ? PARENT : ['\\NonExistent', '\\HasChildren'];

    it('D01/D02: the hierarchy and the subscriptions', async () => {
      expect((await list(f, 'LIST "" "*"')).map((x) => x.name)).toEqual([
        'INBOX', 'baz2', 'baz2/bar2', 'baz2/bar22', 'baz2/bar222', 'eps2', ...(MBOX ? [] : ['eps2/mamba']), 'foo2', 'foo2/bar1', 'foo2/bar2', 'qux2', 'qux2/bar2',
      ]);
      expect(await list(f, 'LIST (SUBSCRIBED) "" "*"')).toEqual([
        e('baz2/bar2', [...LEAF, '\\Subscribed']), e('baz2/bar22', [...LEAF, '\\Subscribed']), e('baz2/bar222', [...LEAF, '\\Subscribed']),
        e('eps2', [...eps2, '\\Subscribed']), e('eps2/mamba', [...mamba, '\\Subscribed']),
        e('foo2/bar1', [...LEAF, '\\Subscribed']), e('foo2/bar2', [...LEAF, '\\Subscribed']), e('qux2/bar2', [...LEAF, '\\Subscribed']),
      ]);
    });

    it('D03 "*2": foo2 and eps2 with CHILDINFO (and baz2, qux2, which the RFC says a server may also send)', async () => {
      expect(await list(f, 'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"')).toEqual([
        e('baz2', PARENT, CHILDINFO), e('baz2/bar2', [...LEAF, '\\Subscribed']), e('baz2/bar22', [...LEAF, '\\Subscribed']),
        e('baz2/bar222', [...LEAF, '\\Subscribed']), e('eps2', [...eps2, '\\Subscribed'], CHILDINFO),
        e('foo2', PARENT, CHILDINFO), e('foo2/bar2', [...LEAF, '\\Subscribed']),
        e('qux2', qux2, CHILDINFO), e('qux2/bar2', [...LEAF, '\\Subscribed']),
      ]);
    });

    it('D03 "*": CHILDINFO even where redundant', async () => {
      const got = await list(f, 'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*"');
      expect(got.filter((x) => x.ext).map((x) => x.name)).toEqual(['baz2', 'eps2', 'foo2', 'qux2']);
      expect(got.filter((x) => !x.ext).map((x) => x.name)).toEqual(subs.slice().sort().filter((n) => n !== 'eps2'));
      expect(got.find((x) => x.name === 'eps2')!.attrs).toContain('\\Subscribed');
    });
  });

  it('9: several patterns; CHILDINFO without \\HasChildren (user gina)', async () => {
    const g = await session('gina', 'pw', 'CREATE foo', 'SUBSCRIBE foo/bar');
    expect(await list(g, 'LIST "" ("foo" "foo/*")')).toEqual([e('foo', LEAF)]);
    expect(await list(g, 'LIST (SUBSCRIBED) "" "foo/*"')).toEqual([e('foo/bar', ['\\Subscribed', '\\NonExistent', '\\HasNoChildren'])]);
    expect(await list(g, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)')).toEqual([e('foo', LEAF, CHILDINFO)]);
  });

  it('10: a missing hierarchy element is \\NonExistent \\HasChildren (user hank)', async () => {
    const h = await session('hank', 'pw', 'CREATE music/rock');
    expect(await list(h, 'LIST () "" *')).toEqual([e('INBOX', INBOX), e('music', MBOX ? PARENT : ['\\NonExistent', '\\HasChildren']), e('music/rock', LEAF)]);
    const music = MBOX ? PARENT : ['\\NonExistent', '\\HasChildren'];
    expect(await list(h, 'LIST () "" %')).toEqual([e('INBOX', INBOX), e('music', music)]);
    expect(await list(h, 'LIST (REMOTE) "" %')).toEqual([e('INBOX', INBOX), e('music', music)]);
    // The RFC's server leaves "music" out here; "clients must handle both cases".
    expect(await list(h, 'LIST "" (% music/rock)')).toEqual([e('INBOX', INBOX), e('music', music), e('music/rock', LEAF)]);
    // The basic syntax keeps RFC 3501's \Noselect for old clients.
    expect((await list(h, 'LIST "" %'))[1]).toEqual(e('music', MBOX ? PARENT : ['\\Noselect', '\\HasChildren']));
  });
});

describe('LIST-EXTENDED syntax', () => {
  let s: Imap;
  beforeAll(async () => {
    s = await session('bob', 'secret', 'CREATE Drafts', 'CREATE Work');
  });

  it('LIST "" ("INBOX" "Drafts"): each mailbox once, however many patterns match it', async () => {
    expect((await list(s, 'LIST "" ("INBOX" "Drafts")')).map((x) => x.name)).toEqual(['INBOX', 'Drafts']);
    expect((await list(s, 'LIST "" ("*" "%" "INBOX")')).map((x) => x.name)).toEqual(['INBOX', 'Drafts', 'Work']);
    expect((await list(s, 'LIST "" ("" "Work")')).map((x) => x.name)).toEqual(['Work']);
  });

  it('refuses what RFC 5258 §3 and §6 do not allow with BAD', async () => {
    for (const bad of [
      'LIST (RECURSIVEMATCH) "" "*"', 'LIST (REMOTE RECURSIVEMATCH) "" "*"', 'LIST (SPECIAL-USE RECURSIVEMATCH) "" "*"',
      'LIST (BOGUS) "" "*"', 'LIST "" "*" RETURN (BOGUS)', 'LIST "" ()', 'LIST "" "*" RETURN (STATUS ())',
      'LIST "" "*" RETURN (STATUS (MESSAGES) STATUS (UNSEEN))', 'LIST "" "*" RETURN (STATUS (BOGUS))', 'LIST "" "*" RETURN',
      'LIST "" "*" FOO (CHILDREN)',
    ]) expect(last(await s.cmd(bad)), bad).toMatch(/^t\d+ BAD/);
  });

  it('LSUB keeps its RFC 3501 form', async () => {
    expect(last(await s.cmd('SUBSCRIBE Work'))).toMatch(/OK/);
    const r = await s.cmd('LSUB "" "*"');
    expect(r.filter((l) => l.startsWith('* LSUB'))).toEqual([MBOX ? '* LSUB (\\NoInferiors) "/" Work' : '* LSUB () "/" Work']);
    expect(last(await s.cmd('LSUB () "" "*"'))).toMatch(/BAD/);
  });
});

describe('RFC 5819 LIST-STATUS', () => {
  it('sends STATUS after each selectable mailbox, none for \\Noselect ones (§2 first example)', async () => {
    const s = await session('bob', 'secret', 'CREATE Ls/', 'CREATE Ls/One', 'APPEND Ls/One (\\Seen) {3}\r\nabc');
    const r = await s.cmd('LIST "" "Ls*" RETURN (STATUS (MESSAGES UNSEEN))');
    expect(last(r)).toMatch(/OK/);
    const lines = r.slice(0, -1);
    if (MBOX) {
      expect(lines).toEqual(['* LIST (\\Noselect \\HasChildren) "/" Ls', '* LIST (\\NoInferiors \\HasNoChildren) "/" Ls/One', '* STATUS Ls/One (MESSAGES 1 UNSEEN 0)']);
    } else {
      expect(lines).toEqual(['* LIST (\\HasChildren) "/" Ls', '* STATUS Ls (MESSAGES 0 UNSEEN 0)', '* LIST (\\HasNoChildren) "/" Ls/One', '* STATUS Ls/One (MESSAGES 1 UNSEEN 0)']);
    }
    const inbox = await s.cmd('LIST "" INBOX RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))');
    const direct = await s.cmd('STATUS INBOX (MESSAGES UNSEEN UIDNEXT)');
    expect(inbox[1]).toBe(direct[0]);
    expect(inbox[1]).toMatch(/^\* STATUS INBOX \(MESSAGES 3 UNSEEN 3 UIDNEXT \d+\)$/);
  });

  it('no STATUS for a parent listed only for its CHILDINFO (§2 second example)', async () => {
    const s = await session('bob', 'secret', 'CREATE Kids/', 'CREATE Kids/A', 'SUBSCRIBE Kids/A', 'SUBSCRIBE INBOX');
    const r = await s.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))');
    expect(last(r)).toMatch(/OK/);
    const i = r.findIndex((l) => / INBOX$/.test(l));
    expect(r[i]).toMatch(/\\Subscribed/);
    expect(r[i + 1]).toBe('* STATUS INBOX (MESSAGES 3)');
    const k = r.findIndex((l) => / Kids /.test(l));
    expect(r[k]).toMatch(/\("CHILDINFO" \("SUBSCRIBED"\)\)$/);
    expect(r.some((l) => l.startsWith('* STATUS Kids'))).toBe(false);
  });

  it('HIGHESTMODSEQ (CONDSTORE): as STATUS gives it, and enables CONDSTORE for the selected mailbox', async () => {
    const s = await session('bob', 'secret', 'SELECT INBOX', 'STORE 1 +FLAGS (\\Flagged)');
    const r = await s.cmd('LIST "" INBOX RETURN (STATUS (HIGHESTMODSEQ))');
    expect(r).toContainEqual(expect.stringMatching(/^\* OK \[HIGHESTMODSEQ \d+\]/));
    const st = r.find((l) => l.startsWith('* STATUS'))!;
    expect(st).toMatch(/^\* STATUS INBOX \(HIGHESTMODSEQ [1-9]\d*\)$/);
    expect((await s.cmd('STATUS INBOX (HIGHESTMODSEQ)'))[0]).toBe(st);
  });
});

describe('RFC 6154 SPECIAL-USE and CREATE-SPECIAL-USE', () => {
  let s: Imap;
  beforeAll(async () => {
    s = await session('alice', 'wonder', 'CREATE ToDo', 'CREATE Projects/Plan');
  });

  it('§5.3: CREATE with USE; \\All cannot be given ([USEATTR]); nothing is created then', async () => {
    expect(last(await s.cmd('CREATE MySpecial (USE (\\Drafts \\Sent))'))).toMatch(/^t\d+ OK/);
    expect(last(await s.cmd('CREATE SentMail (USE (\\sent))'))).toMatch(/OK/);
    expect(last(await s.cmd('CREATE MyDrafts (USE (\\Drafts))'))).toMatch(/OK/);
    expect(last(await s.cmd('CREATE Trash'))).toMatch(/OK/);
    for (const u of ['\\All', '\\Flagged', '\\Important', '\\Bogus']) {
      expect(last(await s.cmd(`CREATE Everything (USE (${u}))`))).toMatch(/^t\d+ NO \[USEATTR\]/);
    }
    expect(await list(s, 'LIST "" Everything')).toEqual([]);
    expect(last(await s.cmd('CREATE Dir/ (USE (\\Archive))'))).toMatch(/NO \[USEATTR\]/);
    expect(last(await s.cmd('CREATE Plain (USE ())'))).toMatch(/OK/);
    for (const bad of ['CREATE X (BOGUS (\\Drafts))', 'CREATE X (USE \\Drafts)', 'CREATE X (USE (Drafts))', 'CREATE X (USE (\\Drafts) USE (\\Sent))', 'CREATE X ()']) {
      expect(last(await s.cmd(bad)), bad).toMatch(/^t\d+ BAD/);
    }
  });

  it('§5.1/5.2: LIST shows the uses, with and without RETURN (SPECIAL-USE); the selection option lists only them', async () => {
    const top = await list(s, 'LIST "" "%"');
    expect(top.map((x) => x.name)).toEqual(['INBOX', 'MyDrafts', 'MySpecial', 'Plain', 'Projects', 'SentMail', 'ToDo', 'Trash']);
    const attrs = (n: string) => top.find((x) => x.name === n)!.attrs;
    expect(attrs('MySpecial')).toEqual(expect.arrayContaining(['\\Drafts', '\\Sent']));
    expect(attrs('SentMail')).toContain('\\Sent');
    expect(attrs('MyDrafts')).toContain('\\Drafts');
    expect(attrs('Trash')).toContain('\\Trash'); // by its name
    expect(attrs('ToDo').filter((a) => !a.startsWith('\\Has') && a !== '\\NoInferiors')).toEqual([]);
    expect(await list(s, 'LIST "" "%" RETURN (SPECIAL-USE)')).toEqual(await list(s, 'LIST () "" "%"'));
    expect((await list(s, 'LIST (SPECIAL-USE) "" "*"')).map((x) => x.name)).toEqual(['MyDrafts', 'MySpecial', 'SentMail', 'Trash']);
    expect((await list(s, 'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)')).map((x) => x.name)).toEqual(['MyDrafts', 'MySpecial', 'SentMail', 'Trash']);
  });

  it('uses are kept by the store: another session sees them; RENAME carries them, DELETE drops them', async () => {
    const other = await session('alice', 'wonder');
    expect((await list(other, 'LIST "" MyDrafts'))[0]!.attrs).toContain('\\Drafts');
    expect(last(await s.cmd('RENAME MyDrafts Store/Drafts2'))).toMatch(/OK/);
    expect((await list(other, 'LIST "" Store/Drafts2'))[0]!.attrs).toContain('\\Drafts');
    expect(last(await s.cmd('RENAME Store Shelf'))).toMatch(/OK/);
    expect((await list(other, 'LIST "" Shelf/Drafts2'))[0]!.attrs).toContain('\\Drafts');
    expect(last(await s.cmd('DELETE Shelf/Drafts2'))).toMatch(/OK/);
    expect(last(await s.cmd('CREATE Shelf/Drafts2'))).toMatch(/OK/);
    expect((await list(other, 'LIST "" Shelf/Drafts2'))[0]!.attrs).not.toContain('\\Drafts');
    // CREATE of an existing name records nothing.
    expect(last(await s.cmd('CREATE ToDo (USE (\\Junk))'))).toMatch(/NO \[ALREADYEXISTS\]/);
    expect((await list(other, 'LIST "" ToDo'))[0]!.attrs).not.toContain('\\Junk');
  });
});

describe('names LIST could not tell apart', () => {
  it('CREATE and RENAME refuse a name with * or %, with a clear NO', async () => {
    const s = await session('bob', 'secret', 'CREATE Wild');
    for (const n of ['"a*b"', '"a%b"', '"Wild/*"', '"%"', '"Wild/x%"', '{3+}\r\nx*y']) {
      const r = last(await s.cmd(`CREATE ${n}`));
      expect(r, n).toMatch(/^t\d+ NO .*'\*' or '%'/);
    }
    expect(last(await s.cmd('RENAME Wild "Wild%"'))).toMatch(/^t\d+ NO .*'\*' or '%'/);
    expect((await list(s, 'LIST "" "*"')).map((x) => x.name)).not.toContain('a*b');
    expect(last(await s.cmd('SELECT Wild'))).toMatch(/OK/);
  });
});
