// "Many sessions, one truth" for the answers served from the facts and keys caches: three IMAP sessions of
// one user (in the resident project all in one `--daemon` worker, sharing its kept caches), plus short ones
// opened and closed meanwhile, run SORT, SEARCH, THREAD and FETCH ENVELOPE/BODYSTRUCTURE while dpop
// sessions RETR, DELE and QUIT, procmail delivers, one IMAP session APPENDs and one expunges, all on the
// same INBOX; in two rounds with every session logged out between them. Every message is a function of its
// number i (X-Seq), so every answer is checked against the truth, not against another answer:
// - every command answers OK; EXISTS never shrinks, EXPUNGE and FETCH numbers are within the view the
//   session was told of, a UID never moves to another slot or comes back after its EXPUNGE, and a SELECT
//   sent after another session was told of an EXPUNGE does not show that message;
// - a UID means one message for everyone: its bytes (BODY.PEEK[], exactly message i's), RFC822.SIZE and
//   ENVELOPE seen for it by any session agree, and each ENVELOPE is exactly message i's;
// - SEARCH/SORT/THREAD answers name only messages of the session's view (UIDs it knows, sequence numbers
//   it was given), are in the right order (SORT) and grouping (THREAD), match their criteria (SEARCH),
//   and leave out only messages that are really gone (checked once the dust settles);
// - at the end every session agrees with a fresh one, and the fresh session's answers pass the same checks.
import { describe, expect, it } from 'vitest';
import { RESIDENT } from '../helpers/resident.js';
import { rng } from '../helpers/xorshift.js';
import { setInbox } from '../maildir/site-store.js';
import { crlf, pop } from '../pop3/pop-client.js';
import { haveProcmail, imapFixture, last, procmailDeliver, type Imap, type TestSite } from './imap-client.js';

const f = imapFixture();
/** Longer runs for hunting (`DMAIL_RACE_SCALE=5`): more commands, dpop rounds and deliveries per round. */
const SCALE = Math.max(1, Number(process.env.DMAIL_RACE_SCALE ?? 1) || 1);

// ---- the truth: message i ----

const NAMES = ['Alpha', 'Bravo', 'Charlie', 'Delta'];
const FAMILIES = 5;
const fromOf = (i: number) => (i * 5) % NAMES.length;
/** Thread family (one fictitious root each) or -1: a message of its own. */
const familyOf = (i: number) => (i % 4 === 3 ? -1 : i % FAMILIES);
const baseSubject = (i: number) => (familyOf(i) < 0 ? `solo ${i}` : `topic ${familyOf(i)}`);
const subjectOf = (i: number) => (familyOf(i) >= 0 && i % 3 === 0 ? `Re: ${baseSubject(i)}` : baseSubject(i));
const dateOf = (i: number) => Date.UTC(2024, 0, 1) + ((i * 37) % 101) * 3_600_000 + i * 1000;
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');
function dateHeader(i: number): string {
  const d = new Date(dateOf(i));
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

function raceMessage(i: number): string {
  const fam = familyOf(i);
  const refs = fam < 0 ? '' : `In-Reply-To: <fam${fam}@race.example>\nReferences: <fam${fam}@race.example>\n`;
  const k = fromOf(i);
  return `From: ${NAMES[k]} <u${k}@example.com>\nTo: bob@example.com\nSubject: ${subjectOf(i)}\nDate: ${dateHeader(i)}\n`
    + `Message-ID: <r${i}@race.example>\n${refs}X-Seq: ${i}\n\nrace message ${i}\n${`${PAD}\n`.repeat((i * 7) % 23)}`;
}

/** BODYSTRUCTURE's size and lines of message i's body (CRLF line ends, as IMAP counts them). */
const PAD = 'padding line';
const bodySizeOf = (i: number) => {
  const pad = (i * 7) % 23;
  return `${`race message ${i}`.length + 2 + (PAD.length + 2) * pad} ${1 + pad}`;
};

function envelopeOf(i: number): string {
  const k = fromOf(i);
  const addr = `(("${NAMES[k]}" NIL "u${k}" "example.com"))`;
  const fam = familyOf(i);
  return `("${dateHeader(i)}" "${subjectOf(i)}" ${addr} ${addr} ${addr} ((NIL NIL "bob" "example.com")) NIL NIL `
    + `${fam < 0 ? 'NIL' : `"<fam${fam}@race.example>"`} "<r${i}@race.example>")`;
}

// ---- reading responses ----

interface Line { text: string; lits: string[] }

/** A response's lines with each literal folded back into its line (as `{L<n>}`, the bytes in `lits`). */
function logical(lines: string[]): Line[] {
  const out: Line[] = [];
  for (let k = 0; k < lines.length; k++) {
    let text = lines[k]!;
    const lits: string[] = [];
    let m: RegExpExecArray | null;
    while ((m = /\{(\d+)\}$/.exec(text))) {
      const n = Number(m[1]);
      let buf = lines[++k] ?? '';
      while (buf.length < n && k + 1 < lines.length) buf += '\r\n' + lines[++k]!;
      lits.push(buf.slice(0, n));
      text = `${text.slice(0, m.index)}{L${lits.length - 1}}${buf.slice(n)}`;
    }
    out.push({ text, lits });
  }
  return out;
}

/** The parenthesised value after `name ` in a FETCH line (quotes and escapes respected). */
function parenAfter(text: string, name: string): string | undefined {
  const at = text.indexOf(`${name} (`);
  if (at < 0) return undefined;
  let depth = 0;
  let quoted = false;
  for (let p = at + name.length + 1; p < text.length; p++) {
    const ch = text[p];
    if (quoted) {
      if (ch === '\\') p++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return text.slice(at + name.length + 1, p + 1);
  }
  return undefined;
}

/** THREAD answer → its threads, each the list of its numbers. */
function threads(body: string): number[][] {
  const out: number[][] = [];
  let depth = 0;
  for (const tok of body.match(/\(|\)|\d+/g) ?? []) {
    if (tok === '(') { if (depth++ === 0) out.push([]); } else if (tok === ')') depth--;
    else out[out.length - 1]!.push(Number(tok));
  }
  return out;
}

// ---- one truth for all ----

interface Known { i: number; size?: number; how: string }

class World {
  readonly truth = new Map<number, Known>();
  readonly problems: string[] = [];
  /** UIDs some session was told are expunged, and when that answer arrived first. */
  readonly expunged = new Map<number, number>();
  /** Checks that hold only if a message is really gone: [uid, what] (decided at the end). */
  readonly mustBeGone: [number, string][] = [];
  /** The next message number to deliver or APPEND. */
  next = 1;

  learn(uid: number, i: number, how: string, size?: number): void {
    const k = this.truth.get(uid);
    if (!k) { this.truth.set(uid, { i, size, how }); return; }
    if (k.i !== i) this.problems.push(`UID ${uid} is message ${k.i} (${k.how}) but message ${i} (${how})`);
    if (size !== undefined) {
      if (k.size === undefined) k.size = size;
      else if (k.size !== size) this.problems.push(`UID ${uid} has RFC822.SIZE ${k.size} and ${size} (${how})`);
    }
  }
}

/** A message of a session's view: its UID once known; when the command that announced it was sent. */
interface Slot { uid?: number; born: number; by: string }

type Key = 'DATE' | 'SUBJECT' | 'FROM' | 'SIZE';
const SORTS: { crit: string; keys: [Key, boolean][] }[] = [
  { crit: '(DATE)', keys: [['DATE', false]] },
  { crit: '(REVERSE DATE)', keys: [['DATE', true]] },
  { crit: '(SUBJECT)', keys: [['SUBJECT', false]] },
  { crit: '(FROM REVERSE DATE)', keys: [['FROM', false], ['DATE', true]] },
  { crit: '(SUBJECT REVERSE SIZE)', keys: [['SUBJECT', false], ['SIZE', true]] },
  { crit: '(SIZE)', keys: [['SIZE', false]] },
];
const SEARCHES: { crit: string; test: (i: number, size: number | undefined) => boolean | undefined }[] = [
  { crit: 'FROM u1', test: (i) => fromOf(i) === 1 },
  { crit: 'SUBJECT "topic 2"', test: (i) => familyOf(i) === 2 },
  { crit: 'OR FROM charlie SUBJECT solo', test: (i) => fromOf(i) === 2 || familyOf(i) < 0 },
  { crit: 'SENTSINCE 3-Jan-2024', test: (i) => dateOf(i) >= Date.UTC(2024, 0, 3) },
  { crit: 'SENTBEFORE 4-Jan-2024 NOT FROM u0', test: (i) => dateOf(i) < Date.UTC(2024, 0, 4) && fromOf(i) !== 0 },
  { crit: 'HEADER Message-ID race.example LARGER 300', test: (_i, size) => (size === undefined ? undefined : size > 300) },
  { crit: 'ALL', test: () => true },
];

/** A session and the view it was told of, checking every answer. */
class Session {
  view: Slot[] = [];
  /** UIDs this session was told are expunged (another session may still show one it was not told of). */
  private readonly told = new Set<number>();
  private pending: (() => void)[] = [];
  constructor(readonly c: Imap, readonly name: string, readonly world: World) {}

  private bad(what: string): void { this.world.problems.push(`${this.name}: ${what}`); }

  private slot(n: number, what: string): Slot | undefined {
    if (!(n >= 1 && n <= this.view.length)) { this.bad(`${what}: message ${n} of ${this.view.length}`); return undefined; }
    return this.view[n - 1];
  }

  /** Send a command; follow its untagged updates in order; check its answers (some after the fill). */
  async cmd(text: string): Promise<Line[]> {
    const sent = performance.now();
    const raw = await this.c.cmd(text);
    const lines = logical(raw);
    const tagged = last(lines.map((l) => l.text));
    if (!/^t\d+ OK/.test(tagged)) this.bad(`${text.slice(0, 70)} -> ${tagged}`);
    for (const l of lines.slice(0, -1)) this.untagged(l, text, sent);
    return lines;
  }

  private untagged(l: Line, cmd: string, sent: number): void {
    const t = l.text;
    let m: RegExpExecArray | null;
    if ((m = /^\* (\d+) EXISTS$/.exec(t))) {
      const n = Number(m[1]);
      if (n < this.view.length) this.bad(`EXISTS ${n} after ${this.view.length}`);
      while (this.view.length < n) this.view.push({ born: sent, by: cmd });
    } else if ((m = /^\* (\d+) EXPUNGE$/.exec(t))) {
      const s = this.slot(Number(m[1]), t);
      if (!s) return;
      this.view.splice(Number(m[1]) - 1, 1);
      if (s.uid !== undefined) {
        this.told.add(s.uid);
        if (!this.world.expunged.has(s.uid)) this.world.expunged.set(s.uid, performance.now());
      }
    } else if ((m = /^\* (\d+) FETCH \((.*)\)$/.exec(t))) {
      this.fetched(Number(m[1]), m[2]!, l.lits);
    } else if ((m = /^\* (SORT|SEARCH|THREAD)(.*)$/.exec(t))) {
      const snap = this.view.slice();
      const body = m[2]!.trim();
      const kind = m[1]!;
      this.pending.push(() => this.answer(kind, cmd, body, snap));
    }
  }

  private fetched(n: number, items: string, lits: string[]): void {
    const s = this.slot(n, `FETCH ${items.slice(0, 40)}`);
    if (!s) return;
    const uidm = /(?:^| )UID (\d+)/.exec(items);
    if (uidm) {
      const uid = Number(uidm[1]);
      if (s.uid === undefined) {
        if (this.view.some((o) => o !== s && o.uid === uid)) this.bad(`UID ${uid} in two slots`);
        if (this.told.has(uid)) this.bad(`UID ${uid} is back after its EXPUNGE`);
        // A view taken after another session was told of an EXPUNGE does not show that message.
        const gone = this.world.expunged.get(uid);
        if (gone !== undefined && gone < s.born && /^SELECT /.test(s.by)) this.bad(`UID ${uid} in a SELECT sent after another session was told of its EXPUNGE`);
        s.uid = uid;
      } else if (s.uid !== uid) this.bad(`message ${n} was UID ${s.uid}, now ${uid}`);
    }
    const uid = s.uid;
    const size = /RFC822\.SIZE (\d+)/.exec(items);
    const whole = /BODY\[\] \{L(\d+)\}/.exec(items);
    if (whole && uid !== undefined) {
      const bytes = lits[Number(whole[1])]!;
      const seq = /^X-Seq: (\d+)\r?$/m.exec(bytes);
      if (!seq || bytes !== crlf(raceMessage(Number(seq[1])))) this.bad(`UID ${uid}: BODY[] is not a message of the run: ${JSON.stringify(bytes.slice(0, 300))}`);
      if (seq) this.world.learn(uid, Number(seq[1]), `${this.name} BODY[]`, size ? Number(size[1]) : undefined);
    } else if (size && uid !== undefined) {
      const k = this.world.truth.get(uid);
      if (k) this.world.learn(uid, k.i, `${this.name} size`, Number(size[1]));
    }
    const env = parenAfter(items, 'ENVELOPE');
    if (env !== undefined && uid !== undefined) {
      const im = /"<r(\d+)@race\.example>"\)$/.exec(env);
      if (!im) { this.bad(`UID ${uid}: ENVELOPE ${env.slice(0, 120)}`); return; }
      const i = Number(im[1]);
      if (env !== envelopeOf(i)) this.bad(`UID ${uid}: ENVELOPE ${env}\n  is not message ${i}'s ${envelopeOf(i)}`);
      this.world.learn(uid, i, `${this.name} ENVELOPE`);
    } else if (env !== undefined || (items.includes('ENVELOPE') && uid === undefined)) {
      this.bad(`FETCH ENVELOPE without a UID: ${items.slice(0, 80)}`);
    }
    // BODYSTRUCTURE and BODY[HEADER.FIELDS] come from the facts cache too: message i's, for the same UID.
    const bs = parenAfter(items, 'BODYSTRUCTURE');
    if (bs !== undefined && uid !== undefined) {
      const m = /^\("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" (\d+) (\d+) /.exec(bs);
      const k = this.world.truth.get(uid);
      if (!m) this.bad(`UID ${uid}: BODYSTRUCTURE ${bs}`);
      else if (k && `${m[1]} ${m[2]}` !== bodySizeOf(k.i)) this.bad(`UID ${uid}: BODYSTRUCTURE ${bs} is not message ${k.i}'s (${bodySizeOf(k.i)})`);
    }
    const hf = /BODY\[HEADER\.FIELDS \(X-SEQ\)\] \{L(\d+)\}/.exec(items);
    if (!hf && items.includes('HEADER.FIELDS')) this.bad(`FETCH HEADER.FIELDS unread: ${items.slice(0, 120)}`);
    if (bs === undefined && items.includes('BODYSTRUCTURE')) this.bad(`FETCH BODYSTRUCTURE unread: ${items.slice(0, 120)}`);
    if (hf && uid !== undefined) {
      const v = /^X-Seq: (\d+)\r\n\r\n$/.exec(lits[Number(hf[1])]!);
      if (!v) this.bad(`UID ${uid}: BODY[HEADER.FIELDS (X-SEQ)] ${JSON.stringify(lits[Number(hf[1])])}`);
      else this.world.learn(uid, Number(v[1]), `${this.name} HEADER.FIELDS`);
    }
  }

  /** Learn the UID and truth of every slot not known yet (non-UID FETCH: never an EXPUNGE). */
  async fill(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      const unknown = this.view.flatMap((s, k) => (s.uid === undefined ? [k + 1] : []));
      if (unknown.length === 0) break;
      await this.cmd(`FETCH ${unknown.join(',')} (UID RFC822.SIZE BODY.PEEK[])`);
    }
    for (const check of this.pending.splice(0)) check();
  }

  /** The messages an answer names (sequence numbers mapped through the view it was given in). */
  private answer(kind: string, cmd: string, body: string, snap: Slot[]): void {
    const byUid = /^UID /i.test(cmd);
    const nums = kind === 'THREAD' ? threads(body) : [body.split(' ').filter(Boolean).map(Number)];
    const known = new Set(snap.flatMap((s) => (s.uid === undefined ? [] : [s.uid])));
    const unknownSlots = snap.filter((s) => s.uid === undefined).length;
    let unmatched = 0;
    const toUid = (n: number): number | undefined => {
      if (byUid) {
        if (known.has(n)) return n;
        if (++unmatched > unknownSlots) this.bad(`${cmd}: UID ${n} is not in the view (${[...known].join(',')})`);
        return undefined;
      }
      if (!(n >= 1 && n <= snap.length)) { this.bad(`${cmd}: message ${n} of ${snap.length}`); return undefined; }
      return snap[n - 1]!.uid;
    };
    const groups = nums.map((g) => g.map(toUid));
    const all = groups.flat();
    if (new Set(all).size !== all.length && !all.includes(undefined)) this.bad(`${cmd}: a message twice in ${body}`);
    const answered = new Set(all.filter((u): u is number => u !== undefined));
    const truth = (u: number) => this.world.truth.get(u);
    const criterion = kind === 'SEARCH' ? SEARCHES.find((s) => cmd.endsWith(` ${s.crit}`)) : undefined;
    // Completeness: a message of the view left out must really be gone (RFC 2180 §4.3).
    for (const u of known) {
      if (answered.has(u)) continue;
      const k = truth(u);
      if (kind !== 'SEARCH' || (k && criterion?.test(k.i, k.size))) this.world.mustBeGone.push([u, `${this.name}: ${cmd} left it out`]);
    }
    if (kind === 'SEARCH') {
      for (const u of answered) {
        const k = truth(u);
        if (k && criterion && criterion.test(k.i, k.size) === false) this.bad(`${cmd}: UID ${u} (message ${k.i}) does not match`);
      }
    } else if (kind === 'THREAD') {
      const groupOf = (u: number) => { const k = truth(u); return k === undefined ? undefined : baseSubject(k.i); };
      const seen = new Map<string, number>();
      groups.forEach((g, gi) => {
        for (const u of g) {
          const key = u === undefined ? undefined : groupOf(u);
          if (key === undefined) continue;
          const at = seen.get(key);
          if (at === undefined) seen.set(key, gi);
          else if (at !== gi) this.bad(`${cmd}: "${key}" in two threads: ${body}`);
        }
        const keys = new Set(g.flatMap((u) => (u === undefined || groupOf(u) === undefined ? [] : [groupOf(u)])));
        if (keys.size > 1) this.bad(`${cmd}: one thread of ${[...keys].join(' / ')}: ${body}`);
      });
    } else {
      const sort = SORTS.find((s) => cmd.includes(`SORT ${s.crit} `))!;
      const order = [...answered].filter((u) => truth(u)?.size !== undefined || !sort.keys.some(([k]) => k === 'SIZE'))
        .filter((u) => truth(u) !== undefined);
      const key = (u: number, k: Key): number | string => {
        const i = truth(u)!.i;
        return k === 'DATE' ? dateOf(i) : k === 'SUBJECT' ? baseSubject(i).toUpperCase() : k === 'FROM' ? `u${fromOf(i)}` : truth(u)!.size!;
      };
      const expected = [...order].sort((a, b) => {
        for (const [k, rev] of sort.keys) {
          const x = key(a, k);
          const y = key(b, k);
          if (x !== y) return (x < y ? -1 : 1) * (rev ? -1 : 1);
        }
        return a - b;
      });
      const got = all.filter((u): u is number => u !== undefined && order.includes(u));
      if (got.join(' ') !== expected.join(' ')) this.bad(`${cmd}: order ${got.join(' ')}, expected ${expected.join(' ')}`);
    }
  }

  /** One random command of the reading kind (and now and then an expunge of its own). A session that
   *  sends no UID command (`uidRate` 0) hears of expunges only at its NOOPs: it keeps a view with messages
   *  that are gone. */
  async step(r: () => number, uidRate: number, mayExpunge: boolean, mayAppend = false): Promise<void> {
    const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
    const uid = r() < uidRate ? 'UID ' : '';
    const op = Math.floor(r() * 10);
    if (op <= 2) await this.cmd(`${uid}SORT ${pick(SORTS).crit} UTF-8 ALL`);
    else if (op <= 4) await this.cmd(`${uid}SEARCH ${pick(SEARCHES).crit}`);
    else if (op <= 5) await this.cmd(`${uid}THREAD ${r() < 0.5 ? 'REFERENCES' : 'ORDEREDSUBJECT'} UTF-8 ALL`);
    else if (op <= 7) {
      const n = this.view.length;
      const a = 1 + Math.floor(r() * Math.max(n, 1));
      await this.cmd(n === 0 ? 'NOOP' : r() < 0.5 ? 'FETCH 1:* (UID ENVELOPE)'
        : `${uid}FETCH ${a}:* (UID RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (X-SEQ)])`);
    } else if (op === 8 && mayExpunge && this.view.length > 4) {
      await this.cmd(`STORE ${1 + Math.floor(r() * this.view.length)} +FLAGS.SILENT (\\Deleted)`);
      await this.cmd('EXPUNGE');
    } else if (op === 9 && mayAppend) {
      const i = this.world.next++;
      const m = crlf(raceMessage(i));
      const a = await this.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`);
      const au = /\[APPENDUID \d+ (\d+)\]/.exec(last(a.map((l) => l.text)));
      if (!au) this.bad(`APPEND of message ${i}: no APPENDUID`);
      else this.world.learn(Number(au[1]), i, `${this.name} APPENDUID`);
    } else if (uidRate > 0 || r() < 0.3) await this.cmd('NOOP');
    await this.fill();
  }

  uids(): number[] { return this.view.map((s) => s.uid ?? -1); }
}

async function session(t: TestSite, name: string, world: World): Promise<Session> {
  const s = new Session(await f.session(t), name, world);
  await s.cmd('SELECT INBOX');
  await s.fill();
  return s;
}

/** dpop sessions one after another: each reads one message, deletes one or two and QUITs (the mbox is rewritten). */
async function popDeleter(t: TestSite, rounds: number, r: () => number, world: World): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const p = await pop(t.site);
    f.onCleanup(() => p.close());
    const ok = (what: string, a: string) => { if (!a.startsWith('+OK')) world.problems.push(`pop: ${what} -> ${a}`); };
    ok('login', await p.login());
    const stat = await p.cmd('STAT');
    ok('STAT', stat);
    const n = Number(stat.split(' ')[1] ?? 0);
    // Read one (dpop marks it read in the spool at QUIT: a rewrite that keeps it), delete one or two.
    if (n > 0) {
      const which = 1 + Math.floor(r() * n);
      const m = await p.multiCmd(`RETR ${which}`);
      ok(`RETR ${which}`, m.status);
      const seq = m.lines.find((l) => l.startsWith('X-Seq: '))?.slice(7);
      if (m.status.startsWith('+OK') && (!seq || !m.lines.includes(`Message-ID: <r${seq}@race.example>`) || !m.lines.includes(`race message ${seq}`))) {
        world.problems.push(`pop: RETR ${which} is not one whole message: ${m.lines.slice(0, 8).join(' | ')}`);
      }
    }
    const victims = n > 6 ? [...new Set([1 + Math.floor(r() * n), 1 + Math.floor(r() * n)])] : [];
    for (const v of victims) ok(`DELE ${v}`, await p.cmd(`DELE ${v}`));
    ok('QUIT', await p.cmd('QUIT'));
    await p.exited();
  }
}

describe('SORT, SEARCH, THREAD and FETCH ENVELOPE beside dpop and procmail', () => {
  it('answer from one truth in every session, and agree at the end', { timeout: 120_000 * SCALE }, async () => {
    const t = f.site(0);
    const START = 24;
    setInbox(t.site, 'bob', Array.from({ length: START }, (_, k) => ({ text: raceMessage(k + 1), date: new Date(dateOf(k + 1)) })));
    const world = new World();
    world.next = START + 1;
    const deliver = async (n: number) => {
      if (!haveProcmail) return;
      for (let k = 0; k < n; k++) { const i = world.next++; await procmailDeliver(t, i, raceMessage(i)); }
    };
    // a: half its commands by UID, and APPENDs; b: none by UID (a stale view); c: half, and expunges.
    const reader = async (s: Session, seed: number, ops: number) => {
      const r = rng(seed);
      for (let k = 0; k < ops; k++) await s.step(r, s.name.startsWith('b') ? 0 : 0.5, s.name.startsWith('c'), s.name.startsWith('a'));
    };
    // d: short sessions one after another (opened and closed while the others hold the mailbox).
    const churner = async (round: number, lives: number) => {
      const r = rng(0xc0de + round);
      for (let k = 0; k < lives; k++) {
        const s = await session(t, `d${round}.${k}`, world);
        for (let j = 0; j < 3; j++) await s.step(r, 0.5, false);
        expect(last(await s.c.cmd('LOGOUT'))).toMatch(/OK/);
        await s.c.c.exited();
      }
    };
    let sessions: Session[] = [];
    // Two rounds; between them every session has logged out (a resident worker keeps the mailbox's facts
    // and keys tables idle, without their files) while dpop and procmail change the mailbox: the second
    // round's sessions must not believe what no longer holds.
    for (const round of [1, 2]) {
      sessions = [];
      for (const name of ['a', 'b', 'c']) sessions.push(await session(t, `${name}${round}`, world));
      // Resident mode: the three sessions share one worker (and its kept facts and keys tables).
      if (RESIDENT) expect(new Set(sessions.map((s) => s.c.c.serverPid())).size).toBe(1);
      await Promise.all([
        ...sessions.map((s, k) => reader(s, 0x5eed + 10 * round + k, 12 * SCALE)),
        popDeleter(t, 2 * SCALE, rng(0xdead + round), world),
        deliver(4 * SCALE),
        churner(round, SCALE),
      ]);
      // The dust settles: every session catches up and sees the same messages.
      for (const s of sessions) { await s.cmd('NOOP'); await s.fill(); }
      for (const s of sessions.slice(1)) {
        if (s.uids().join() !== sessions[0]!.uids().join()) world.problems.push(`round ${round}: ${s.name} sees ${s.uids().join()}, ${sessions[0]!.name} ${sessions[0]!.uids().join()}`);
      }
      if (round === 2) break;
      for (const s of sessions) {
        expect(last(await s.c.cmd('LOGOUT'))).toMatch(/OK/);
        expect(await s.c.c.exited()).toBe(0);
      }
      await popDeleter(t, 1, rng(0xbeef), world);
      await deliver(2);
    }

    // A fresh session: the same messages, and its own answers (every message known) pass the same checks.
    const fresh = await session(t, 'fresh', world);
    const final = fresh.uids();
    if (sessions[0]!.uids().join() !== final.join()) world.problems.push(`${sessions[0]!.name} sees ${sessions[0]!.uids().join()}, fresh ${final.join()}`);
    for (const { crit } of SORTS) await fresh.cmd(`UID SORT ${crit} UTF-8 ALL`);
    for (const { crit } of SEARCHES) await fresh.cmd(`SEARCH ${crit}`);
    for (const alg of ['REFERENCES', 'ORDEREDSUBJECT']) await fresh.cmd(`UID THREAD ${alg} UTF-8 ALL`);
    await fresh.cmd('FETCH 1:* (UID ENVELOPE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (X-SEQ)])');
    await fresh.fill();

    const alive = new Set(final);
    const missing = world.mustBeGone.filter(([u]) => alive.has(u)).map(([u, what]) => `UID ${u}: ${what}`);
    const back = final.filter((u) => world.expunged.has(u));
    expect([...world.problems, ...missing, ...back.map((u) => `UID ${u} expunged yet there`)]).toEqual([]);
    // The run did race: messages were delivered and deleted, and the truth covers every survivor.
    expect(final.every((u) => world.truth.has(u))).toBe(true);
    expect(world.expunged.size).toBeGreaterThan(0);
    if (haveProcmail) expect(final.some((u) => world.truth.get(u)!.i > START)).toBe(true);
  });
});
