// The compliance script runner (issue 11): reads the scripts of this directory (format described in
// README.md here), runs each on a target server (ours through the real binary started per connection,
// or Dovecot for reference) and reports which passed. Every script works in one shared account, like
// imaptest: its first connection removes what an earlier script left (the `${box}` folder and everything
// named `${box}*`), creates `${box}` afresh and APPENDs the script's messages.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// ---------------------------------------------------------------------------------------------------
// Tokens of a response (or of an expected response, where variables and wildcards may appear)

export type Tok =
  | { t: 'atom'; v: string }
  | { t: 'str'; v: string }
  | { t: 'list'; v: Tok[] }
  | { t: 'code'; v: Tok[] }
  | { t: 'var'; v: string }
  | { t: 'any' }
  | { t: 'rest' };

/** Tokenize one response line (literals inline as `{n}\r\n` + n chars) or, with pattern, an expectation. */
export function tokenize(s: string, pattern = false): Tok[] {
  let i = 0;
  const fail = (why: string): never => { throw new Error(`cannot parse ${pattern ? 'expectation' : 'response'} at ${i} (${why}): ${s.slice(0, 200)}`); };
  const seq = (end: string | null): Tok[] => {
    const out: Tok[] = [];
    for (;;) {
      while (s[i] === ' ') i++;
      if (i >= s.length) { if (end) fail(`missing ${end}`); return out; }
      const ch = s[i]!;
      if (end && ch === end) { i++; return out; }
      if (ch === ')' || ch === ']') fail(`unexpected ${ch}`);
      out.push(one());
    }
  };
  const one = (): Tok => {
    const ch = s[i]!;
    if (ch === '(') { i++; return { t: 'list', v: seq(')') }; }
    if (ch === '[') { i++; return { t: 'code', v: seq(']') }; }
    if (ch === '"') {
      i++;
      let v = '';
      for (;;) {
        if (i >= s.length) fail('unterminated string');
        const c = s[i++]!;
        if (c === '"') break;
        if (c === '\\') {
          const e = s[i++]!;
          if (pattern && e === 'r') v += '\r';
          else if (pattern && e === 'n') v += '\n';
          else if (pattern && e === 't') v += '\t';
          else v += e;
        } else v += c;
      }
      return { t: 'str', v };
    }
    if (ch === '{' && !pattern) {
      const m = /^\{(\d+)\+?\}\r\n/.exec(s.slice(i));
      if (!m) fail('bad literal');
      i += m![0].length;
      const v = s.slice(i, i + Number(m![1]));
      i += v.length;
      return { t: 'str', v };
    }
    if (pattern && s.startsWith('${', i)) {
      const e = s.indexOf('}', i);
      const v = s.slice(i + 2, e);
      i = e + 1;
      return { t: 'var', v };
    }
    // An atom; `[...]` inside it (BODY[HEADER.FIELDS (A B)]<0>) is part of it, spaces included.
    let v = '';
    let depth = 0;
    while (i < s.length) {
      const c = s[i]!;
      if (depth === 0 && (c === ' ' || c === '(' || c === ')' || c === ']')) break;
      if (c === '[') depth++;
      if (c === ']') depth--;
      v += c;
      i++;
    }
    if (v === '') fail('empty atom');
    if (pattern && v === '?') return { t: 'any' };
    if (pattern && v === '...') return { t: 'rest' };
    return { t: 'atom', v };
  };
  return seq(null);
}

export function show(toks: Tok[]): string {
  return toks.map((k) => {
    switch (k.t) {
      case 'atom': return k.v;
      case 'str': return JSON.stringify(k.v.length > 60 ? `${k.v.slice(0, 60)}…` : k.v);
      case 'list': return `(${show(k.v)})`;
      case 'code': return `[${show(k.v)}]`;
      case 'var': return `\${${k.v}}`;
      case 'any': return '?';
      case 'rest': return '...';
    }
  }).join(' ');
}

// ---------------------------------------------------------------------------------------------------
// Matching. Order-insensitive where RFC 3501 leaves the order free: flag lists (FLAGS, PERMANENTFLAGS,
// FETCH FLAGS), LIST/LSUB attributes, the data items of one FETCH or STATUS response, SEARCH results,
// CAPABILITY and ENABLED lists, VANISHED uid sets. Sequence sets compare by the numbers they name.

export type Vars = Map<string, string>;

const SET_AFTER = new Set(['FLAGS', 'PERMANENTFLAGS', 'LIST', 'LSUB']);
const SET_TAIL_AFTER = new Set(['SEARCH', 'CAPABILITY', 'ENABLED']);
const normKey = (k: string) => k.toUpperCase().replace(/"/g, '').replace(/\s+/g, ' ');
const rawText = (a: Tok): string => (a.t === 'atom' ? a.v : a.t === 'str' ? JSON.stringify(a.v) : `(${show(a.t === 'list' || a.t === 'code' ? a.v : [])})`);

function seqSet(v: string): number[] | null {
  if (!/^\d+(:\d+)?(,\d+(:\d+)?)*$/.test(v)) return null;
  const out: number[] = [];
  for (const part of v.split(',')) {
    const [a, b] = part.split(':').map(Number) as [number, number | undefined];
    const [lo, hi] = b === undefined ? [a, a] : [Math.min(a, b), Math.max(a, b)];
    if (hi - lo > 100_000) return null;
    for (let n = lo; n <= hi; n++) out.push(n);
  }
  return out;
}

interface Opts { caseless?: boolean; sorted?: boolean }

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function imapDate(v: string): number | null {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(v);
  if (!m) return null;
  const mon = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (mon < 0) return null;
  const off = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return Date.UTC(Number(m[3]), mon, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - off * 60_000;
}

function matchOne(p: Tok, a: Tok, vars: Vars, o: Opts): boolean {
  if (p.t === 'any') return true;
  if (p.t === 'var') {
    const txt = rawText(a);
    const have = vars.get(p.v);
    if (have === undefined) { vars.set(p.v, txt); return true; }
    return have === txt || (a.t === 'atom' && have.toUpperCase() === txt.toUpperCase());
  }
  if (p.t === 'atom' && a.t === 'atom') {
    if (p.v.toUpperCase() === a.v.toUpperCase()) return true;
    const ps = seqSet(p.v);
    const as = seqSet(a.v);
    if (!ps || !as) return false;
    if (o.sorted) { ps.sort((x, y) => x - y); as.sort((x, y) => x - y); }
    return ps.length === as.length && ps.every((n, k) => n === as[k]);
  }
  if ((p.t === 'str' || p.t === 'atom') && (a.t === 'str' || a.t === 'atom')) {
    if (p.v === 'NIL' && p.t === 'atom') return false; // NIL is never a string
    if (a.t === 'atom' && a.v === 'NIL') return false;
    // An IMAP date-time names an instant: the zone a server shows it in is its own choice.
    const pd = imapDate(p.v);
    const ad = imapDate(a.v);
    if (pd !== null && ad !== null) return pd === ad;
    return o.caseless ? p.v.toLowerCase() === a.v.toLowerCase() : p.v === a.v;
  }
  if ((p.t === 'list' && a.t === 'list') || (p.t === 'code' && a.t === 'code')) return matchSeq(p.v, a.v, vars, o, false);
  return false;
}

const isRecentFlag = (k: Tok) => k.t === 'atom' && k.v.toUpperCase() === '\\RECENT';

/** A flag list: \Recent belongs to whichever session saw the message first, so an expectation that
 *  does not name it ignores it. */
function matchFlags(p: Tok[], a: Tok[], vars: Vars, o: Opts): boolean {
  return matchSet(p, p.some(isRecentFlag) ? a : a.filter((k) => !isRecentFlag(k)), vars, o);
}

/** Each pattern token matches a distinct actual token, in any order; `...` allows more. */
function matchSet(p: Tok[], a: Tok[], vars: Vars, o: Opts): boolean {
  const rest = p.some((k) => k.t === 'rest');
  const pats = p.filter((k) => k.t !== 'rest');
  if (!rest && pats.length !== a.length) return false;
  const used = new Set<number>();
  for (const pk of pats) {
    let found = false;
    for (let j = 0; j < a.length && !found; j++) {
      if (used.has(j)) continue;
      const trial = new Map(vars);
      if (matchOne(pk, a[j]!, trial, o)) { used.add(j); for (const [k, v] of trial) vars.set(k, v); found = true; }
    }
    if (!found) return false;
  }
  return true;
}

/** name/value pairs (FETCH, STATUS) in any order; `...` allows more pairs. */
function matchPairs(p: Tok[], a: Tok[], vars: Vars, o: Opts): boolean {
  const rest = p.length > 0 && p[p.length - 1]!.t === 'rest';
  const pp = rest ? p.slice(0, -1) : p;
  if (pp.length % 2 || a.length % 2) return false;
  const actual = new Map<string, Tok>();
  for (let k = 0; k < a.length; k += 2) {
    if (a[k]!.t !== 'atom') return false;
    actual.set(normKey((a[k] as { v: string }).v), a[k + 1]!);
  }
  // A server may add data items nobody asked for (RFC 3501 7.4.2); UID and MODSEQ are the usual ones
  // (RFC 7162 even requires them in some unsolicited FETCH responses).
  const named = new Set(pp.filter((_, k) => k % 2 === 0).map((t) => normKey((t as { v: string }).v)));
  const extra = [...actual.keys()].filter((k) => !named.has(k) && k !== 'UID' && k !== 'MODSEQ');
  if (!rest && extra.length > 0) return false;
  for (let k = 0; k < pp.length; k += 2) {
    const key = pp[k]!;
    if (key.t !== 'atom') return false;
    const nk = normKey(key.v);
    const av = actual.get(nk);
    if (!av) return false;
    const pv = pp[k + 1]!;
    if (nk === 'FLAGS' && pv.t === 'list' && av.t === 'list') { if (!matchFlags(pv.v, av.v, vars, o)) return false; continue; }
    const caseless = nk === 'BODYSTRUCTURE' || nk === 'BODY';
    if (!matchOne(pv, av, vars, { ...o, caseless: o.caseless || caseless })) return false;
  }
  return true;
}

function matchSeq(p: Tok[], a: Tok[], vars: Vars, o: Opts, top: boolean): boolean {
  let i = 0;
  for (; i < p.length; i++) {
    const pk = p[i]!;
    if (pk.t === 'rest') return true;
    if (i >= a.length) return false;
    const prev = i > 0 && p[i - 1]!.t === 'atom' ? (p[i - 1] as { v: string }).v.toUpperCase() : '';
    const ak = a[i]!;
    if (top && SET_TAIL_AFTER.has(prev)) return matchSet(p.slice(i), a.slice(i), vars, o);
    if (top && prev === 'VANISHED') {
      // VANISHED [(EARLIER)] uid-set
      if (pk.t === 'list') { if (!matchOne(pk, ak, vars, o)) return false; continue; }
      if (!matchOne(pk, ak, vars, { ...o, sorted: true })) return false;
      continue;
    }
    if (top && prev === 'FETCH' && pk.t === 'list' && ak.t === 'list') { if (!matchPairs(pk.v, ak.v, vars, o)) return false; continue; }
    if (top && i >= 2 && pk.t === 'list' && ak.t === 'list' && p[i - 2]!.t === 'atom' && (p[i - 2] as { v: string }).v.toUpperCase() === 'STATUS') {
      if (!matchPairs(pk.v, ak.v, vars, o)) return false;
      continue;
    }
    if (SET_AFTER.has(prev) && pk.t === 'list' && ak.t === 'list') { if (!matchFlags(pk.v, ak.v, vars, o)) return false; continue; }
    if (!matchOne(pk, ak, vars, o)) return false;
  }
  if (i === 0 && top) return a.length === 0;
  return i === a.length;
}

/** Does one received response (tokens) match an expectation (tokens)? Binds variables on success. */
export function matches(p: Tok[], a: Tok[], vars: Vars): boolean {
  const trial = new Map(vars);
  // Status responses carry human text after the interesting part: match a prefix.
  const head = p[0]?.t === 'atom' ? p[0].v : '';
  const second = p[1]?.t === 'atom' ? p[1].v.toUpperCase() : '';
  const status = head === '*' ? ['OK', 'NO', 'BAD', 'BYE', 'PREAUTH'].includes(second) : ['OK', 'NO', 'BAD', '+'].includes(head.toUpperCase());
  const pat = status && p[p.length - 1]?.t !== 'rest' ? [...p, { t: 'rest' } as Tok] : p;
  if (!matchSeq(pat, a, trial, {}, true)) return false;
  for (const [k, v] of trial) vars.set(k, v);
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Scripts

export interface Expect { kind: 'untagged' | 'not' | 'cont' | 'tagged'; text: string; toks: Tok[] }
export interface Step {
  kind: 'cmd' | 'raw' | 'wait';
  conn: number;
  text: string;
  line: number;
  expects: Expect[];
  ordered: boolean;
  exact: boolean;
}
export interface TestMessage { flags: string; date: string | null; text: string }
export interface Script {
  name: string;
  connections: number;
  state: 'selected' | 'auth';
  messages: TestMessage[];
  steps: Step[];
}

export function parseScript(name: string, src: string): Script {
  const s: Script = { name, connections: 1, state: 'selected', messages: [], steps: [] };
  const lines = src.split('\n');
  let cur: Step | null = null;
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!.replace(/\r$/, '');
    const line = raw.trim();
    const where = `${name}:${n + 1}`;
    if (line === '' || line.startsWith('#')) continue;
    let m: RegExpExecArray | null;
    if ((m = /^connections (\d+)$/.exec(line))) { s.connections = Number(m[1]); continue; }
    if ((m = /^state (selected|auth)$/.exec(line))) { s.state = m[1] as Script['state']; continue; }
    if ((m = /^%message(?: (\([^)]*\)))?(?: "([^"]+)")?$/.exec(line))) {
      const body: string[] = [];
      for (n++; n < lines.length && lines[n]!.replace(/\r$/, '') !== '%end'; n++) body.push(lines[n]!.replace(/\r$/, ''));
      if (n >= lines.length) throw new Error(`${where}: %message without %end`);
      s.messages.push({ flags: m[1] ?? '', date: m[2] ?? null, text: body.map((l) => `${l}\r\n`).join('') });
      continue;
    }
    if ((m = /^(\d+)(>>|>|<)\s?(.*)$/.exec(line))) {
      const conn = Number(m[1]);
      if (conn < 1 || conn > s.connections) throw new Error(`${where}: connection ${conn} not declared (connections ${s.connections})`);
      cur = { kind: m[2] === '>' ? 'cmd' : m[2] === '>>' ? 'raw' : 'wait', conn, text: m[3]!, line: n + 1, expects: [], ordered: false, exact: false };
      s.steps.push(cur);
      continue;
    }
    if (!cur) throw new Error(`${where}: expectation before any command: ${line}`);
    if (line === '!ordered') { cur.ordered = true; continue; }
    if (line === '!exact') { cur.exact = true; continue; }
    if ((m = /^!not (\*.*)$/.exec(line))) { cur.expects.push({ kind: 'not', text: m[1]!, toks: tokenize(m[1]!, true) }); continue; }
    if (line.startsWith('* ')) { cur.expects.push({ kind: 'untagged', text: line, toks: tokenize(line, true) }); continue; }
    if (line === '+' || line.startsWith('+ ')) { cur.expects.push({ kind: 'cont', text: line, toks: tokenize(line, true) }); continue; }
    if (/^(OK|NO|BAD)\b/.test(line)) { cur.expects.push({ kind: 'tagged', text: line, toks: tokenize(line, true) }); continue; }
    throw new Error(`${where}: cannot understand: ${line}`);
  }
  for (const st of s.steps) {
    if (st.kind === 'wait' && st.expects.some((e) => e.kind !== 'untagged')) throw new Error(`${name}:${st.line}: a wait takes untagged lines only`);
    if (st.kind === 'cmd' && !st.expects.some((e) => e.kind === 'tagged' || e.kind === 'cont')) throw new Error(`${name}:${st.line}: say how the command ends (OK/NO/BAD or +)`);
  }
  return s;
}

export const SCRIPT_DIR = new URL('.', import.meta.url).pathname;

export function loadScripts(dir = SCRIPT_DIR): Script[] {
  return readdirSync(dir).filter((f) => f.endsWith('.imap')).sort()
    .map((f) => parseScript(f.replace(/\.imap$/, ''), readFileSync(join(dir, f), 'latin1')));
}

// ---------------------------------------------------------------------------------------------------
// Running

/** One client connection: raw line/byte reads over whatever carries it. */
export interface Wire {
  line(ms: number): Promise<string>;
  bytes(n: number, ms: number): Promise<Buffer>;
  send(data: string | Buffer): void;
  close(): void;
}

export interface Target {
  name: string;
  /** A connection in the authenticated state (greeting read, logged in). */
  connect(): Promise<Wire>;
}

/** A Wire over a byte stream (a socket, or a child's stdout) and a writer. */
export function streamWire(input: NodeJS.ReadableStream, write: (d: string | Buffer) => void, close: () => void): Wire {
  let buf = Buffer.alloc(0);
  let ended = false;
  let waiter: (() => void) | null = null;
  input.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); waiter?.(); });
  input.on('end', () => { ended = true; waiter?.(); });
  input.on('close', () => { ended = true; waiter?.(); });
  input.on('error', () => { ended = true; waiter?.(); });
  const wait = (ms: number) => new Promise<void>((res, rej) => {
    const t = setTimeout(() => { waiter = null; rej(new Error(`no answer within ${ms} ms; buffered: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`)); }, ms);
    waiter = () => { clearTimeout(t); waiter = null; res(); };
  });
  return {
    async line(ms) {
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i >= 0) { const l = buf.subarray(0, i).toString('latin1'); buf = buf.subarray(i + 2); return l; }
        if (ended) throw new Error('connection closed by the server');
        await wait(ms);
      }
    },
    async bytes(n, ms) {
      while (buf.length < n) { if (ended) throw new Error('connection closed by the server'); await wait(ms); }
      const out = buf.subarray(0, n); buf = buf.subarray(n); return out;
    },
    send: write,
    close,
  };
}

const READ_MS = 10_000;

const clip = (t: string) => JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}…` : t).slice(1, -1);

/** Reads whole responses (literals included, as `{n}\r\n` + bytes in latin1). */
class Conn {
  tagN = 0;
  open: { tag: string } | null = null;
  transcript: string[] = [];
  private readonly t0 = Date.now();
  constructor(readonly id: number, readonly w: Wire) {}
  private at(): string { return `+${Date.now() - this.t0}ms`; }

  async response(ms = READ_MS): Promise<string> {
    let text = await this.w.line(ms);
    for (;;) {
      const m = /\{(\d+)\+?\}$/.exec(text);
      if (!m) break;
      const lit = await this.w.bytes(Number(m[1]), ms);
      text += `\r\n${lit.toString('latin1')}${await this.w.line(ms)}`;
    }
    this.transcript.push(`${this.at()} S: ${clip(text)}`);
    return text;
  }

  send(text: string): void {
    this.transcript.push(`${this.at()} C: ${clip(text.replace(/\r\n$/, ''))}`);
    this.w.send(text);
  }
}

const substitute = (text: string, vars: Vars, where: string) =>
  text.replace(/\$\{([A-Za-z_][\w]*)\}/g, (_, k: string) => {
    const v = vars.get(k);
    if (v === undefined) throw new Error(`${where}: variable \${${k}} not bound yet`);
    return v;
  });

/** Turn `~"..."` tokens of a command into non-synchronizing literals (LITERAL+); returns the wire text. */
function withLiterals(text: string): string {
  return text.replace(/~"((?:[^"\\]|\\.)*)"/g, (_, body: string) => {
    const v = (tokenize(`"${body}"`, true)[0] as { v: string }).v;
    return `{${Buffer.byteLength(v, 'latin1')}+}\r\n${v}`;
  });
}

class ScriptFailure extends Error {}

async function runCommand(c: Conn, text: string, vars: Vars, where: string): Promise<void> {
  const tag = `c${c.id}.${++c.tagN}`;
  c.send(`${tag} ${withLiterals(substitute(text, vars, where))}\r\n`);
  c.open = { tag };
}

/** Read responses of conn until the open command's tagged one (or a continuation, when one is expected). */
async function collect(c: Conn, stopAtCont: boolean, where: string): Promise<{ untagged: string[]; end: string }> {
  const untagged: string[] = [];
  for (;;) {
    let r: string;
    try { r = await c.response(); } catch (e) { throw new ScriptFailure(`${where}: ${(e as Error).message}`); }
    if (r.startsWith('* ')) { untagged.push(r); continue; }
    if (r.startsWith('+')) {
      if (stopAtCont) return { untagged, end: r };
      throw new ScriptFailure(`${where}: unexpected continuation: ${r}`);
    }
    if (c.open && r.startsWith(`${c.open.tag} `)) { c.open = null; return { untagged, end: r }; }
    throw new ScriptFailure(`${where}: unexpected line: ${r}`);
  }
}

/** An expectation with the variables bound so far written in (so `${box}-dst` is one atom). */
const pattern = (e: Expect, vars: Vars): Tok[] =>
  tokenize(e.text.replace(/\$\{([A-Za-z_]\w*)\}/g, (all, k: string) => vars.get(k) ?? all), true);

function check(step: Step, got: { untagged: string[]; end: string | null }, vars: Vars, where: string): void {
  const toks = got.untagged.map((u) => tokenize(u));
  const used = new Set<number>();
  let from = 0;
  const bad = (why: string) => new ScriptFailure(`${where}: ${why}\n  received:\n${[...got.untagged, got.end ?? ''].filter(Boolean).map((l) => `    ${clip(l)}`).join('\n')}`);
  for (const e of step.expects) {
    if (e.kind === 'untagged') {
      let hit = -1;
      for (let j = step.ordered ? from : 0; j < toks.length && hit < 0; j++) {
        if (!used.has(j) && matches(pattern(e, vars), toks[j]!, vars)) hit = j;
      }
      if (hit < 0) throw bad(`expected ${e.text}`);
      used.add(hit);
      from = hit + 1;
    }
  }
  for (const e of step.expects) {
    if (e.kind === 'not') {
      const j = toks.findIndex((t) => matches(pattern(e, vars), t, new Map(vars)));
      if (j >= 0) throw bad(`must not see ${e.text}`);
    }
  }
  // RECENT counts change with every new message in whichever session sees it first: never "beyond".
  const isRecent = (t: Tok[]) => t.length === 3 && t[2]!.t === 'atom' && t[2].v.toUpperCase() === 'RECENT';
  if (step.exact && toks.some((t, j) => !used.has(j) && !isRecent(t))) throw bad('responses beyond those expected (!exact)');
  const end = step.expects.find((e) => e.kind === 'tagged' || e.kind === 'cont');
  if (end && got.end !== null) {
    const actual = end.kind === 'tagged' ? tokenize(got.end.slice(got.end.indexOf(' ') + 1)) : tokenize(got.end);
    if (!matches(pattern(end, vars), actual, vars)) throw bad(`expected ${end.text}, got ${got.end}`);
  } else if (got.end !== null && step.kind !== 'wait' && !/^\S+ OK\b/.test(got.end)) {
    throw bad(`expected OK, got ${got.end}`);
  }
}

async function execStep(step: Step, conns: Conn[], vars: Vars, name: string): Promise<void> {
  const c = conns[step.conn - 1]!;
  const where = `${name}:${step.line} [conn ${step.conn}]`;
  const wantsCont = step.expects.some((e) => e.kind === 'cont');
  if (step.kind === 'cmd') {
    if (c.open) throw new ScriptFailure(`${where}: previous command still open`);
    await runCommand(c, step.text, vars, where);
    const got = await collect(c, wantsCont, where);
    if (wantsCont && got.end.startsWith('+')) { check(step, got, vars, where); return; }
    if (wantsCont) throw new ScriptFailure(`${where}: expected a continuation, got ${got.end}`);
    check(step, got, vars, where);
    return;
  }
  if (step.kind === 'raw') {
    c.send(`${substitute(step.text, vars, where)}\r\n`);
    if (!c.open) { if (step.expects.length) throw new ScriptFailure(`${where}: expectations after a raw line need an open command`); return; }
    check(step, await collect(c, wantsCont, where), vars, where);
    return;
  }
  // wait: untagged responses arrive on their own (IDLE)
  const got: string[] = [];
  const deadline = Date.now() + READ_MS;
  for (;;) {
    try { check(step, { untagged: got, end: null }, new Map(vars), where); break; } catch (e) {
      if (!(e instanceof ScriptFailure) || Date.now() > deadline) throw e;
    }
    let r: string;
    try { r = await c.response(Math.max(1, deadline - Date.now())); } catch {
      check(step, { untagged: got, end: null }, vars, where); // throws with what came
      return;
    }
    if (!r.startsWith('* ')) throw new ScriptFailure(`${where}: unexpected line while waiting: ${r}`);
    got.push(r);
  }
  check(step, { untagged: got, end: null }, vars, where);
}

export const BOX = 'ctest';

/** The first connection clears what earlier scripts left, then creates the box with the messages. */
async function setup(c: Conn, s: Script, where: string): Promise<void> {
  const cmd = async (text: string) => { await runCommand(c, text, new Map(), where); return collect(c, false, where); };
  const list = await cmd(`LIST "" "${BOX}*"`);
  const names = list.untagged.map((l) => tokenize(l)).filter((t) => t[1]?.t === 'atom' && t[1].v.toUpperCase() === 'LIST')
    .map((t) => (t[4] as { v: string }).v).sort((a, b) => b.length - a.length);
  for (const n of names) {
    const r = await cmd(`DELETE "${n}"`);
    if (!/^\S+ OK/.test(r.end)) throw new ScriptFailure(`${where}: setup: DELETE ${n}: ${r.end}`);
  }
  const unsub = await cmd(`LSUB "" "${BOX}*"`);
  for (const l of unsub.untagged) {
    const t = tokenize(l);
    await cmd(`UNSUBSCRIBE "${(t[4] as { v: string }).v}"`);
  }
  for (const text of [`CREATE ${BOX}`]) {
    const r = await cmd(text);
    if (!/^\S+ OK/.test(r.end)) throw new ScriptFailure(`${where}: setup: ${text}: ${r.end}`);
  }
  for (const m of s.messages) {
    const r = await cmd(`APPEND ${BOX} ${m.flags || '()'}${m.date ? ` "${m.date}"` : ''} {${Buffer.byteLength(m.text, 'latin1')}+}\r\n${m.text}`);
    if (!/^\S+ OK/.test(r.end)) throw new ScriptFailure(`${where}: setup: APPEND: ${r.end}`);
  }
}

export interface ScriptResult { name: string; ok: boolean; ms: number; error?: string }

export async function runScript(target: Target, s: Script): Promise<ScriptResult> {
  const conns: Conn[] = [];
  const t0 = Date.now();
  try {
    for (let i = 1; i <= s.connections; i++) conns.push(new Conn(i, await target.connect()));
    await setup(conns[0]!, s, `${s.name} (setup)`);
    if (s.state === 'selected') {
      for (const c of conns) {
        await runCommand(c, `SELECT ${BOX}`, new Map(), s.name);
        const r = await collect(c, false, `${s.name} (SELECT)`);
        if (!/^\S+ OK/.test(r.end)) throw new ScriptFailure(`${s.name}: SELECT ${BOX}: ${r.end}`);
      }
    }
    const vars: Vars = new Map([['box', BOX]]);
    for (const step of s.steps) await execStep(step, conns, vars, s.name);
    return { name: s.name, ok: true, ms: Date.now() - t0 };
  } catch (e) {
    const tail = conns.map((c) => `  conn ${c.id}:\n${c.transcript.slice(-Number(process.env.COMPLIANCE_TRANSCRIPT ?? 12)).map((l) => `    ${l}`).join('\n')}`).join('\n');
    return { name: s.name, ok: false, ms: Date.now() - t0, error: `${(e as Error).message}\n${tail}` };
  } finally {
    for (const c of conns) c.w.close();
  }
}

/** Run every script in order; pauseMs between one script's close and the next one's first connect. */
export async function runAll(target: Target, scripts: Script[], pauseMs: number): Promise<ScriptResult[]> {
  const out: ScriptResult[] = [];
  for (const s of scripts) {
    out.push(await runScript(target, s));
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return out;
}
