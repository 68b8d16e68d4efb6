// CONTEXT=SORT (RFC 5267 §4) over the real bin/imapd, both stores: SORT RETURN (UPDATE) keeps the
// sorted result, and ADDTO/REMOVEFROM carry positions in sort order (§4.3.3, §4.3.4) as this and other
// sessions flag, append and expunge, also in IDLE; REMOVEFROM comes before the EXPUNGE, ADDTO after
// the EXISTS; PARTIAL with UPDATE (§4.4); CANCELUPDATE. Then a race: procmail deliveries and another
// imapd session flagging and expunging while this one holds sort and search contexts, applying every
// update as a client would; at the end each accumulated result equals a fresh SORT/SEARCH.
import { describe, expect, it } from 'vitest';
import { haveProcmail, imapFixture, last, procmailDeliver, rng, type Imap } from './imap-client.js';
import { removeFrom, replaceResult, type Context } from '../../src/imap/search-context.js';
import type { MailboxState } from '../../src/store/types.js';

const f = imapFixture();
const esearch = (r: string[]) => r.filter((l) => l.startsWith('* ESEARCH'));
const uidsOf = async (a: Imap): Promise<number[]> =>
  (await a.cmd('UID SEARCH ALL')).find((l) => l.startsWith('* SEARCH'))!.slice(8).trim().split(' ').map(Number);
const message = (subject: string) => `Subject: ${subject}\r\nFrom: x@example.com\r\n\r\nbody of ${subject}\r\n`;
const append = async (b: Imap, subject: string) => {
  const m = message(subject);
  expect(last(await b.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`))).toMatch(/OK/);
};

/** A sequence-set in result order: ranges expand ascending (RFC 5267 §3.2: 12:10 is 10,11,12). */
function expand(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [x, y] = part.split(':').map(Number) as [number, number?];
    if (y === undefined) out.push(x);
    else for (let n = Math.min(x, y); n <= Math.max(x, y); n++) out.push(n);
  }
  return out;
}

/** A context's result as the client keeps it, from its first ESEARCH and every update after. */
class ClientContext {
  list: number[] = [];
  problems: string[] = [];
  /** ADDTO/REMOVEFROM lines received. */
  updates = 0;
  constructor(readonly tag: string, readonly uid: boolean, readonly sorted: boolean) {}

  /** One server line, in the order received. */
  apply(l: string): void {
    let m: RegExpExecArray | null;
    if (!this.uid && (m = /^\* (\d+) EXPUNGE$/.exec(l))) {
      const n = Number(m[1]);
      if (this.list.includes(n)) this.problems.push(`${this.tag}: ${l} still in the result (no REMOVEFROM before it)`);
      this.list = this.list.filter((x) => x !== n).map((x) => (x > n ? x - 1 : x));
      return;
    }
    if (!l.startsWith(`* ESEARCH (TAG "${this.tag}")`)) return;
    if (/\) UID( |$)/.test(l) !== this.uid) this.problems.push(`${this.tag}: UID indicator wrong in ${l}`);
    if ((m = / ALL ([\d:,]+)/.exec(l))) this.list = expand(m[1]!);
    if (/ (ADDTO|REMOVEFROM) /.test(l)) this.updates++;
    for (const item of l.matchAll(/(ADDTO|REMOVEFROM) \(([^)]*)\)/g)) {
      const words = item[2]!.split(' ');
      for (let i = 0; i + 1 < words.length; i += 2) {
        const pos = Number(words[i]);
        const nums = expand(words[i + 1]!);
        if ((pos === 0) === this.sorted) this.problems.push(`${this.tag}: position ${pos} in ${l}`);
        if (item[1] === 'ADDTO') {
          if (pos > this.list.length + 1) this.problems.push(`${this.tag}: ADDTO at ${pos} past ${this.list.length}`);
          if (pos) this.list.splice(pos - 1, 0, ...nums);
          else this.list = [...this.list, ...nums].sort((a, b) => a - b);
        } else {
          for (const n of nums) {
            const at = pos ? pos - 1 : this.list.indexOf(n);
            if (this.list[at] !== n) this.problems.push(`${this.tag}: REMOVEFROM ${n} at ${pos}, found ${this.list[at]} (${l})`);
            else this.list.splice(at, 1);
          }
        }
      }
    }
  }
}

/** A session that feeds every line it receives to its client contexts. */
function follower(a: Imap) {
  const ctxs: ClientContext[] = [];
  const feed = (lines: string[]) => {
    for (const l of lines) for (const c of ctxs) c.apply(l);
    return lines;
  };
  return {
    ctxs,
    cmd: async (text: string) => feed(await a.cmd(text)),
    /** Open a context: `cmd` is the command after the tag, e.g. `UID SORT RETURN (UPDATE) ...`. */
    async open(cmd: string): Promise<ClientContext> {
      const tag = a.nextTag();
      const ctx = new ClientContext(tag, cmd.startsWith('UID '), / SORT /.test(` ${cmd} `));
      ctxs.push(ctx);
      a.send(`${tag} ${cmd}\r\n`);
      const r = feed(await a.c.until(`${tag} `, 15_000));
      expect(last(r)).toMatch(/OK/);
      return ctx;
    },
    feed,
  };
}

const stub = (criteria: boolean, order: number[]): Context => ({
  tag: 'C01', uid: true, key: { op: 'all' }, charset: undefined, criteria: criteria ? [{ key: 'SUBJECT', reverse: false }] : null,
  order, uids: new Set(order), state: {} as MailboxState, memo: null,
});

describe('CONTEXT=SORT update positions (RFC 5267 §4.3.3, §4.3.4)', () => {
  it('adds in runs at their final positions: the RFC example gives its preferred form', () => {
    const c = stub(true, [2734, 2735]);
    expect(replaceResult(c, [2731, 2732, 2733, 2734, 2735], (u) => u)).toBe('ESEARCH (TAG "C01") UID ADDTO (1 2731:2733)');
    expect(c.order).toEqual([2731, 2732, 2733, 2734, 2735]);
    expect(replaceResult(c, [2731, 2732, 2733, 2734, 2735], (u) => u)).toBeNull();
  });

  it('removes on the shrinking list, neighbours in one pair, and adds in ascending final position', () => {
    const c = stub(true, [5, 3, 9, 1]);
    expect(replaceResult(c, [5, 1], (u) => u)).toBe('ESEARCH (TAG "C01") UID REMOVEFROM (2 3,9)');
    expect(replaceResult(c, [7, 5, 8, 1, 10], (u) => u)).toBe('ESEARCH (TAG "C01") UID ADDTO (1 7 3 8 5 10)');
    expect(replaceResult(c, [5, 12, 11, 10], (u) => u)).toBe('ESEARCH (TAG "C01") UID REMOVEFROM (1 7 2 8,1) ADDTO (2 12,11)');
    expect(removeFrom(c, (u) => u === 5 || u === 10, (u) => u)).toBe('ESEARCH (TAG "C01") UID REMOVEFROM (1 5 3 10)');
    expect(c.order).toEqual([12, 11]);
    // A SEARCH context: position 0, mailbox order.
    const s = stub(false, [1, 4, 6]);
    expect(replaceResult(s, [2, 3, 4, 8], (u) => u)).toBe('ESEARCH (TAG "C01") UID REMOVEFROM (0 1,6) ADDTO (0 2:3,8)');
  });
});

describe('CONTEXT=SORT (RFC 5267 §4)', () => {
  it('is advertised with ESORT and CONTEXT=SEARCH', async () => {
    const a = await f.session(f.site(1));
    const caps = (await a.cmd('CAPABILITY'))[0]!.split(' ');
    for (const c of ['SORT', 'ESORT', 'CONTEXT=SEARCH', 'CONTEXT=SORT']) expect(caps).toContain(c);
  });

  it('follows flags, appends and expunges of another session with positions in sort order', async () => {
    const t = f.site(5);
    const a = await f.session(t, 'SELECT INBOX');
    const b = await f.session(t, 'SELECT INBOX');
    const u = await uidsOf(a); // subjects "Test message 1".."5" in UID order
    const tag = a.nextTag();
    a.send(`${tag} UID SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN\r\n`);
    const r = await a.c.until(`${tag} `, 15_000);
    expect(last(r)).toMatch(/OK/);
    // §3.2/§3.3: in sort order, no descending range.
    expect(esearch(r)).toEqual([`* ESEARCH (TAG "${tag}") UID ALL ${[...u].reverse().join(',')}`]);
    const E = `* ESEARCH (TAG "${tag}") UID`;
    expect(last(await b.cmd(`UID STORE ${u[3]} +FLAGS (\\Seen)`))).toMatch(/OK/);
    expect(esearch(await a.cmd('NOOP'))).toEqual([`${E} REMOVEFROM (2 ${u[3]})`]);
    expect(last(await b.cmd(`UID STORE ${u[2]},${u[1]} +FLAGS (\\Seen)`))).toMatch(/OK/);
    expect(esearch(await a.cmd('NOOP'))).toEqual([`${E} REMOVEFROM (2 ${u[2]},${u[1]})`]);
    expect(last(await b.cmd(`UID STORE ${u[3]},${u[2]} -FLAGS (\\Seen)`))).toMatch(/OK/);
    expect(esearch(await a.cmd('NOOP'))).toEqual([`${E} ADDTO (2 ${u[3]},${u[2]})`]);
    // New mail sorts into the middle ("Test message 25" between 3 and 2): after its EXISTS.
    await append(b, 'Test message 25');
    const n = await a.cmd('NOOP');
    const nu = (await uidsOf(a)).at(-1)!;
    expect(esearch(n)).toEqual([`${E} ADDTO (4 ${nu})`]);
    expect(n.indexOf(`${E} ADDTO (4 ${nu})`)).toBeGreaterThan(n.indexOf('* 6 EXISTS'));
    // An expunge: REMOVEFROM at its position, before the EXPUNGE.
    expect(last(await b.cmd(`UID STORE ${u[2]} +FLAGS.SILENT (\\Deleted)`))).toMatch(/OK/);
    expect(last(await b.cmd('EXPUNGE'))).toMatch(/OK/);
    const x = await a.cmd('NOOP');
    expect(x.filter((l) => l.startsWith('* ESEARCH') || / EXPUNGE$/.test(l))).toEqual([`${E} REMOVEFROM (3 ${u[2]})`, '* 3 EXPUNGE']);
    // The result is what a fresh UID SORT finds.
    const fresh = (await a.cmd('UID SORT (REVERSE SUBJECT) UTF-8 UNSEEN')).find((l) => l.startsWith('* SORT'))!;
    expect(fresh).toBe(`* SORT ${u[4]} ${u[3]} ${nu} ${u[0]}`);
  });

  it('with sequence numbers: REMOVEFROM names the number before its EXPUNGE; IDLE; CANCELUPDATE', async () => {
    const t = f.site(4);
    const a = await f.session(t, 'SELECT INBOX');
    const b = await f.session(t, 'SELECT INBOX');
    const tag = a.nextTag();
    a.send(`${tag} SORT RETURN (UPDATE COUNT) (SUBJECT) UTF-8 ALL\r\n`);
    expect(esearch(await a.c.until(`${tag} `, 15_000))).toEqual([`* ESEARCH (TAG "${tag}") COUNT 4`]);
    const E = `* ESEARCH (TAG "${tag}")`;
    // Three new ones sort before all (the RFC's C01 example: one pair, a range in sort order).
    for (const s of ['A1', 'A2', 'A3']) await append(b, s);
    const n = await a.cmd('NOOP');
    expect(esearch(n)).toEqual([`${E} ADDTO (1 5:7)`]);
    expect(n.indexOf(`${E} ADDTO (1 5:7)`)).toBeGreaterThan(n.indexOf('* 7 EXISTS'));
    // During IDLE: the expunge of message 6 ("A2", position 2) arrives, REMOVEFROM first.
    const idle = a.nextTag();
    a.send(`${idle} IDLE\r\n`);
    await a.c.until('+ ', 15_000);
    expect(last(await b.cmd('STORE 6 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    expect(last(await b.cmd('EXPUNGE'))).toMatch(/OK/);
    const pushed = await a.c.until('* 6 EXPUNGE', 15_000);
    expect(pushed.filter((l) => l.startsWith('* ESEARCH') || / EXPUNGE$/.test(l))).toEqual([`${E} REMOVEFROM (2 6)`, '* 6 EXPUNGE']);
    a.send('DONE\r\n');
    expect(last(await a.c.until(`${idle} `, 15_000))).toMatch(/OK/);
    // CANCELUPDATE ends the sort context; a second one has nothing to end.
    expect(last(await a.cmd(`CANCELUPDATE "${tag}"`))).toMatch(/OK/);
    await append(b, 'A0');
    expect(esearch(await a.cmd('NOOP'))).toEqual([]);
    expect(last(await a.cmd(`CANCELUPDATE "${tag}"`))).toMatch(/BAD/);
  });

  it('PARTIAL with UPDATE pages the sorted result and updates cover all of it (§4.4); tag reuse is BAD', async () => {
    const t = f.site(5);
    const a = await f.session(t, 'SELECT INBOX');
    const u = await uidsOf(a);
    const tag = a.nextTag();
    a.send(`${tag} UID SORT RETURN (PARTIAL -2:-1 UPDATE) (REVERSE ARRIVAL) UTF-8 ALL\r\n`);
    const r = await a.c.until(`${tag} `, 15_000);
    expect(esearch(r)).toEqual([`* ESEARCH (TAG "${tag}") UID PARTIAL (-2:-1 ${u[1]},${u[0]})`]);
    a.send(`${tag} UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL\r\n`);
    expect(last(await a.c.until(`${tag} `, 15_000))).toMatch(/BAD/);
    // The first message is deleted from this session: the update names position 5, outside the page.
    expect(esearch(await a.cmd(`UID STORE ${u[0]} +FLAGS.SILENT (\\Deleted)`))).toEqual([]);
    const x = await a.cmd('EXPUNGE');
    expect(x.filter((l) => l.startsWith('* ESEARCH') || / EXPUNGE$/.test(l))).toEqual([`* ESEARCH (TAG "${tag}") UID REMOVEFROM (5 ${u[0]})`, '* 1 EXPUNGE']);
  });

  it.skipIf(!haveProcmail)('stays equal to a fresh SORT/SEARCH while procmail delivers and another session flags and expunges', async () => {
    const t = f.site(6);
    const a = await f.session(t, 'SELECT INBOX');
    const b = await f.session(t, 'SELECT INBOX');
    const fa = follower(a);
    const specs = [
      ['UID SORT', '(SUBJECT)', 'UNSEEN'],
      ['SORT', '(REVERSE ARRIVAL)', 'UNKEYWORD $x'],
      ['UID SORT', '(SIZE REVERSE SUBJECT)', 'ALL'],
      ['SORT', '(DATE)', 'OR SEEN KEYWORD $x'],
      ['SEARCH', '', 'UNSEEN KEYWORD $x'],
      ['UID SEARCH', '', 'OR SEEN DELETED'],
    ] as const;
    const ctxs: ClientContext[] = [];
    for (const [cmd, crit, key] of specs) {
      ctxs.push(await fa.open(cmd.endsWith('SORT') ? `${cmd} RETURN (UPDATE) ${crit} UTF-8 ${key}` : `${cmd} RETURN (UPDATE) ${key}`));
    }
    const problems: string[] = [];
    // Rounds of racers: a procmail delivery, session b changing flags and expunging, and this session
    // picking up updates with NOOP or FETCH (which may not send EXPUNGE), all at once.
    const r = rng(14);
    const flagger = async () => {
      for (let i = 0; i < 3; i++) {
        await b.cmd('NOOP');
        const exists = (await b.cmd('SEARCH ALL')).find((l) => l.startsWith('* SEARCH'))!.split(' ').length - 2;
        if (!exists) return;
        const n = 1 + r(exists);
        const op = r(5);
        const cmd = op === 0 ? `STORE ${n} +FLAGS (\\Seen)` : op === 1 ? `STORE ${n} -FLAGS (\\Seen)` : op === 2 ? `STORE ${n} +FLAGS ($x)` : op === 3 ? `STORE ${n} -FLAGS ($x)` : `STORE ${n} +FLAGS (\\Deleted)`;
        const res = last(await b.cmd(cmd));
        if (!/OK/.test(res)) problems.push(`b: ${cmd} -> ${res}`);
        if (op === 4 && r(2) === 0) await b.cmd('EXPUNGE');
      }
    };
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        procmailDeliver(t, 100 + round * 3),
        (async () => {
          await flagger();
          // Every other round, two messages surely go (the ALL context holds them).
          if (round % 2) {
            await b.cmd('STORE 1,2 +FLAGS.SILENT (\\Deleted)');
            await b.cmd('EXPUNGE');
          }
        })(),
        (async () => {
          await fa.cmd('NOOP');
          await fa.cmd(round % 2 ? 'FETCH 1:* (FLAGS)' : 'UID FETCH 1:* (FLAGS)');
        })(),
      ]);
    }
    await b.cmd('EXPUNGE');
    await fa.cmd('NOOP');
    for (const [i, [cmd, crit, key]] of specs.entries()) {
      const r = await fa.cmd(cmd.endsWith('SORT') ? `${cmd} ${crit} UTF-8 ${key}` : `${cmd} ${key}`);
      const line = r.find((l) => l.startsWith('* SORT') || l.startsWith('* SEARCH'))!;
      const fresh = line.split(' ').slice(2).filter(Boolean).map(Number);
      expect(ctxs[i]!.list, `${cmd} ${crit} ${key}`).toEqual(fresh);
    }
    expect([...problems, ...ctxs.flatMap((c) => c.problems)]).toEqual([]);
    // Not a vacuous race: the contexts did follow changes.
    expect(ctxs.reduce((n, c) => n + c.updates, 0)).toBeGreaterThan(5);
  });
});
