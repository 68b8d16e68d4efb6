// Mailbox.facts() (store/facts.ts + store/facts-file.ts), both backends: the facts equal what parsing the
// message bytes gives (the MIME engine, checked against Dovecot elsewhere), sort and threading keys,
// header fields; the per-mailbox cache answers later sessions without reading messages, never answers
// with facts of other bytes, is dropped for another UIDVALIDITY, survives damage, is not written by
// read-only handles or into a directory owned by someone else, and stays bounded.
import { afterEach, describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/mime/parser.js';
import { envelope } from '../../src/mime/envelope.js';
import { bodyStructure } from '../../src/mime/bodystructure.js';
import { getSection } from '../../src/mime/section.js';
import type { Mailbox, MailStore, MessageFacts, FactsRequest } from '../../src/store/types.js';
import { messageIds, parseSentDate } from '../../src/store/facts.js';
import { tempUser } from './helpers.js';
import { storeAt, tempDir } from '../maildir/fixture.js';
import { rmSync } from 'node:fs';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

export const MESSAGES = [
  crlf(`From: "Ann Example" <ann@example.com>
To: bob@example.org, carol@example.org
Cc: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.net>
Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Bern
Date: Tue, 3 Dec 2024 10:15:00 +0100
Message-ID: <m1@example.com>
X-Priority: 1

Hello there.
`),
  crlf(`From: bob@example.org
To: ann@example.com
Subject: Re: Gruesse aus Bern
Date: 4 Dec 24 09:00 EST
Message-ID: <m2 (comment) @example.org>
In-Reply-To: <m1@example.com>
References: <m0@example.com>
 <m1@example.com> (second)
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

body one
--b1
Content-Type: application/octet-stream; name="x.bin"
Content-Disposition: attachment; filename="x.bin"
Content-Transfer-Encoding: base64

AAECAw==
--b1--
`),
  crlf(`Subject: no addresses, no date
X-Priority: 3
X-Priority: 5

just text
`),
];

interface Fixture { store: MailStore; deliver(raw: string): Promise<void>; cleanup(): void }

async function mboxFixture(): Promise<Fixture> {
  const u = tempUser();
  return { store: u.store(), deliver: async (raw) => u.deliver(raw), cleanup: () => u.cleanup() };
}

async function maildirFixture(): Promise<Fixture> {
  const root = tempDir();
  const store = storeAt(root);
  return { store, deliver: async (raw) => { await store.append('INBOX', Buffer.from(raw)); }, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

async function all(box: Mailbox, uids: readonly number[], want: FactsRequest): Promise<MessageFacts[]> {
  const out: MessageFacts[] = [];
  for await (const f of box.facts(uids, want)) out.push(f);
  return out;
}

const FULL: FactsRequest = {
  envelope: true, body: true, bodyStructure: true, sortKeys: true, threading: true,
  headerFields: ['Subject', 'x-priority', 'From'], headerValues: ['subject', 'X-Priority', 'Bcc'],
};

describe('message ids and dates', () => {
  it('finds message ids in references, skipping comments and junk', () => {
    expect(messageIds('<a@b> (c <x@y>) <bad> <d (e) @f>\r\n <g@h>')).toEqual(['a@b', 'd@f', 'g@h']);
    expect(messageIds('"<q@r>" <"x y"@z>')).toEqual(['q@r', '"x y"@z']);
  });
  it('parses RFC 5322 dates with zones and obsolete forms', () => {
    expect(parseSentDate('Tue, 3 Dec 2024 10:15:00 +0100')).toBe(Date.UTC(2024, 11, 3, 9, 15));
    expect(parseSentDate('4 Dec 24 09:00 EST')).toBe(Date.UTC(2024, 11, 4, 14, 0));
    expect(parseSentDate('Mon, 1 Jan 99 00:00:00 GMT (comment)')).toBe(Date.UTC(1999, 0, 1));
    expect(parseSentDate('yesterday')).toBeNull();
  });
});

describe.each([['mbox', mboxFixture], ['maildir', maildirFixture]] as const)('%s: Mailbox.facts', (_kind, make) => {
  let fx: Fixture;
  afterEach(() => fx?.cleanup());

  it('answers what parsing the bytes gives', async () => {
    fx = await make();
    for (const m of MESSAGES) await fx.deliver(m);
    const box = await fx.store.open('INBOX');
    const uids = box.state.messages.map((m) => m.uid);
    const facts = await all(box, [...uids, uids[0]!], FULL);
    expect(facts.map((f) => f.uid)).toEqual([...uids, uids[0]]);
    for (const [i, uid] of uids.entries()) {
      const raw = await box.read(uid);
      const root = parseMessage(raw);
      const f = facts[i]!;
      expect(f.exists).toBe(true);
      expect(f.envelope).toBe(envelope(root, raw));
      expect(f.body).toBe(bodyStructure(root, raw, false));
      expect(f.bodyStructure).toBe(bodyStructure(root, raw, true));
      expect(f.headerFields!.equals(getSection(raw, root, { path: [], kind: 'HEADER.FIELDS', fields: ['Subject', 'x-priority', 'From'] })!)).toBe(true);
    }
    const [a, b, c] = facts;
    expect(a!.sortKeys).toEqual({
      dateHeader: 'Tue, 3 Dec 2024 10:15:00 +0100', sentDate: Date.UTC(2024, 11, 3, 9, 15), sentDay: Date.UTC(2024, 11, 3),
      subject: 'Grüße aus Bern', from: { name: 'Ann Example', mailbox: 'ann', domain: 'example.com' },
      to: { name: null, mailbox: 'bob', domain: 'example.org' }, cc: { name: 'Jörg', mailbox: 'joerg', domain: 'example.net' },
    });
    expect(a!.threading).toEqual({ messageId: 'm1@example.com', inReplyTo: [], references: [] });
    expect(b!.threading).toEqual({ messageId: 'm2@example.org', inReplyTo: ['m1@example.com'], references: ['m0@example.com', 'm1@example.com'] });
    expect(c!.sortKeys).toMatchObject({ dateHeader: null, sentDate: null, sentDay: null, from: null, to: null, cc: null });
    expect([...a!.headerValues!]).toEqual([['subject', ['Grüße aus Bern']], ['x-priority', ['1']], ['bcc', []]]);
    expect(c!.headerValues!.get('x-priority')).toEqual(['3', '5']);
    await box.close();
  });

  it('says a message is gone instead of failing', async () => {
    fx = await make();
    for (const m of MESSAGES) await fx.deliver(m);
    const box = await fx.store.open('INBOX');
    const uid = box.state.messages[0]!.uid;
    await box.expunge([uid]);
    box.acknowledge(box.state);
    const facts = await all(box, [uid, box.state.messages[0]!.uid, 999], { envelope: true });
    expect(facts.map((f) => f.exists)).toEqual([false, true, false]);
    expect(facts[0]!.envelope).toBeUndefined();
    await box.close();
  });
});
