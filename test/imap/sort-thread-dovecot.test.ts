// SORT and THREAD answers compared with Dovecot 2.3 on the same messages: a seeded, generated mailbox
// with reply chains, missing parents, duplicate and absent Message-IDs, In-Reply-To only, reply and
// forward subjects, list tags, encoded names and dates in many zones; SEARCH FROM/TO/CC on addresses
// written with comments is compared too (our address match is a superset of Dovecot's: we also match
// the raw header text and the `Name <addr>` form, which Dovecot writes otherwise, so only searches for
// names and addresses are compared). Dovecot runs pre-authenticated on an mbox copy
// (test/store/dovecot-preauth.ts); we run bin/imapd on the test's store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';
import { setInbox, type TestMessage } from '../maildir/site-store.js';
import { mbox } from '../helpers/site.js';
import { dovecotImap, dovecotUnavailable } from '../store/dovecot-preauth.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COUNT = 120;
function corpus(): TestMessage[] {
  const rnd = prng(5256);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const topics = ['Budget', 'Lunch plans', 'Server down', 'Ünïcode talk', 'Release 2.0', 'ideas', 'budget'];
  const prefixes = ['', '', 'Re: ', 'RE: ', 'Fwd: ', 'Re: Re: ', '[team] ', '[team] Re: ', 'Fw: '];
  const names = ['Alice <alice@ex.com>', 'bob@ex.com', '=?UTF-8?Q?=C3=89mile?= <emile@ex.org>', '"Zed, Z." <zed@ex.net>', 'carol (work) <Carol@ex.com>', ''];
  const zones = ['+0000', '-0500', '+0930', '+0100', 'GMT', '-0800'];
  const out: TestMessage[] = [];
  const ids: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const h: string[] = [];
    const from = pick(names);
    if (from) h.push(`From: ${from}`);
    const to = pick(names);
    if (to) h.push(`To: ${to}`);
    if (rnd() < 0.3) h.push(`Cc: ${pick(names) || 'x@y.z'}`);
    h.push(`Subject: ${pick(prefixes)}${pick(topics)}${rnd() < 0.1 ? ' (fwd)' : ''}`);
    if (rnd() < 0.9) {
      const d = new Date(Date.UTC(2024, 0, 1) + Math.floor(rnd() * 20 * 86400) * 1000);
      const s = d.toUTCString().replace('GMT', pick(zones));
      h.push(`Date: ${rnd() < 0.1 ? s.replace(/^\w+, /, '') : s}`);
    }
    const r = rnd();
    let id: string | null = `<m${i}.${Math.floor(rnd() * 1e6)}@ex.com>`;
    if (r < 0.05) id = null;
    else if (r < 0.1 && ids.length) id = pick(ids); // duplicate
    if (id) h.push(`Message-ID: ${id}`);
    if (ids.length && rnd() < 0.6) {
      const parent = pick(ids);
      const chain = rnd() < 0.5 ? [pick(ids), parent] : [parent];
      if (rnd() < 0.15) chain.unshift(`<lost${Math.floor(rnd() * 5)}@ex.com>`);
      if (rnd() < 0.3) h.push(`In-Reply-To: ${parent}`);
      else h.push(`References: ${chain.join(' ')}`);
    } else if (rnd() < 0.1) {
      h.push(`References: <lost${Math.floor(rnd() * 5)}@ex.com>`);
    }
    if (id) ids.push(id);
    out.push({ text: `${h.join('\n')}\n\nbody ${i} ${'x'.repeat(Math.floor(rnd() * 300))}\n`, date: new Date(Date.UTC(2024, 1, 1) + Math.floor(rnd() * 1e6) * 1000) });
  }
  // Addresses written with comments inside (issue 14: SEARCH must see through them as Dovecot does).
  out.push({ text: 'From: Some One <user (comment)@ (comment) domain.org>\nTo: <list (the list) @ lists.example>\nSubject: comments\n\nbody\n' });
  return out;
}

const COMMANDS = [
  'SEARCH FROM user@domain.org', 'SEARCH TO list@lists.example', 'SEARCH FROM carol@ex.com', 'SEARCH FROM "Zed, Z."',
  'SEARCH TO emile@ex.org', 'SEARCH CC x@y.z', 'SEARCH FROM "Some One"',
  'SORT (ARRIVAL) UTF-8 ALL', 'SORT (DATE) UTF-8 ALL', 'SORT (REVERSE DATE) UTF-8 ALL', 'SORT (SIZE) UTF-8 ALL',
  'SORT (SUBJECT) UTF-8 ALL', 'SORT (FROM) UTF-8 ALL', 'SORT (TO) UTF-8 ALL', 'SORT (CC) UTF-8 ALL',
  'SORT (DISPLAYFROM) UTF-8 ALL', 'SORT (DISPLAYTO) UTF-8 ALL', 'SORT (SUBJECT REVERSE DATE) UTF-8 ALL',
  'THREAD ORDEREDSUBJECT UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL', 'THREAD REFERENCES UTF-8 1:60',
];

const why = dovecotUnavailable();
describe.skipIf(why !== null)('SORT/THREAD against Dovecot 2.3', () => {
  let t: TestSite;
  let c: Imap;
  let dir: string;
  const theirs = new Map<string, string>();
  beforeAll(async () => {
    const msgs = corpus();
    t = siteWithMessages(0);
    setInbox(t.site, 'bob', msgs);
    dir = mkdtempSync(join(tmpdir(), 'sort-dovecot-'));
    writeFileSync(join(dir, 'inbox'), mbox(msgs));
    const out = await dovecotImap(dir, `mbox:${dir}/mail:INBOX=${dir}/inbox`, ['SELECT INBOX', ...COMMANDS]);
    COMMANDS.forEach((cmd, i) => {
      const name = cmd.split(' ')[0]!;
      const m = new RegExp(`\\* ${name}([^\\r\\n]*)\\r\\nd${i + 2} OK`).exec(out);
      if (!m) throw new Error(`no Dovecot answer to ${cmd}: ${out.slice(-500)}`);
      theirs.set(cmd, m[1]!.trim());
    });
    c = await connectImap(t.site);
    expect(last(await c.login())).toMatch(/OK/);
    expect(last(await c.cmd('SELECT INBOX'))).toMatch(/OK/);
  }, 120_000);
  afterAll(() => {
    c?.close();
    t?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  for (const cmd of COMMANDS) {
    it(cmd, async () => {
      const r = await c.cmd(cmd);
      expect(last(r)).toMatch(/^t\d+ OK/);
      const name = cmd.split(' ')[0]!;
      const ours = r.find((l) => l.startsWith(`* ${name}`))!.replace(`* ${name}`, '').trim();
      if (process.env.SHOW_DOVECOT) console.log(cmd, '\n ours  ', ours.slice(0, 300), '\n theirs', theirs.get(cmd)!.slice(0, 300));
      expect(ours).toBe(theirs.get(cmd));
    });
  }
});
