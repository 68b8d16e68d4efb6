// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §2.2), as pure functions over message facts,
// and the thread-list response syntax. Nothing here recurses on the depth of a thread: a chain of
// 100k replies is an ordinary input.
//
// The tree is kept in flat integer arrays (a node is a number; messages are 0..n-1 in sequence order,
// dummies follow), children as doubly linked lists: no object per node, unlinking is O(1), and the
// only strings looked at are the Message-IDs (one Map lookup each) and, in step 5, the base subjects
// of the top-level threads. test/mime/thread-differential.test.ts checks it against the plain object
// version it replaced on random mailboxes.
import { compareCodepoints } from '../mime/collation.js';

export interface ThreadMessage {
  /** What the response shows: sequence number, or UID for UID THREAD. */
  readonly n: number;
  /** Sequence number (tie-break for equal dates). */
  readonly seq: number;
  /** Sent date (Date: header, or INTERNALDATE when it has none), UTC ms. */
  readonly date: number;
  /** i;unicode-casemap key of the base subject (REFERENCES reads it only for top-level threads). */
  readonly subjectKey: string;
  readonly replyOrForward: boolean;
  readonly messageId: string | null;
  readonly references: readonly string[];
}

/** A thread forest: node `x` shows `shown[x]` (a dummy: -1); its children are firstChild[x], then
 *  nextSibling of each; the top level is `roots`, in order. */
export interface ThreadTree {
  readonly shown: ArrayLike<number>;
  readonly firstChild: ArrayLike<number>;
  readonly nextSibling: ArrayLike<number>;
  readonly roots: readonly number[];
}

const NONE = -1;

/** Children lists in flat typed arrays (grown by doubling). */
class Forest {
  parent: Int32Array;
  first: Int32Array;
  last: Int32Array;
  next: Int32Array;
  prev: Int32Array;
  size = 0;

  constructor(room: number) {
    const k = Math.max(16, room);
    this.parent = new Int32Array(k);
    this.first = new Int32Array(k);
    this.last = new Int32Array(k);
    this.next = new Int32Array(k);
    this.prev = new Int32Array(k);
  }

  add(): number {
    const x = this.size++;
    if (x >= this.parent.length) {
      const grow = (a: Int32Array): Int32Array => { const b = new Int32Array(a.length * 2); b.set(a); return b; };
      this.parent = grow(this.parent);
      this.first = grow(this.first);
      this.last = grow(this.last);
      this.next = grow(this.next);
      this.prev = grow(this.prev);
    }
    this.parent[x] = NONE;
    this.first[x] = NONE;
    this.last[x] = NONE;
    this.next[x] = NONE;
    this.prev[x] = NONE;
    return x;
  }
  /** Append `c` (which has no parent) to `p`'s children. */
  link(p: number, c: number): void {
    this.parent[c] = p;
    const l = this.last[p]!;
    this.prev[c] = l;
    this.next[c] = NONE;
    if (l === NONE) this.first[p] = c;
    else this.next[l] = c;
    this.last[p] = c;
  }

  unlink(c: number): void {
    const p = this.parent[c]!;
    if (p === NONE) return;
    const a = this.prev[c]!;
    const b = this.next[c]!;
    if (a === NONE) this.first[p] = b;
    else this.next[a] = b;
    if (b === NONE) this.last[p] = a;
    else this.prev[b] = a;
    this.parent[c] = NONE;
    this.prev[c] = NONE;
    this.next[c] = NONE;
  }

  /** Would making `p` the parent of `c` close a loop (is `c` an ancestor of `p`, or `p` itself)? */
  wouldLoop(p: number, c: number): boolean {
    // A node without children is nobody's ancestor: the common case costs no walk up a long chain.
    if (this.first[c] === NONE) return p === c;
    for (let x = p; x !== NONE; x = this.parent[x]!) if (x === c) return true;
    return false;
  }

  children(p: number): number[] {
    const out: number[] = [];
    for (let c = this.first[p]!; c !== NONE; c = this.next[c]!) out.push(c);
    return out;
  }

  /** Make `list` (nodes whose parent is `p`, or loose ones) the children of `p`, in that order. */
  setChildren(p: number, list: readonly number[]): void {
    let l = NONE;
    for (const c of list) {
      this.parent[c] = p;
      this.prev[c] = l;
      if (l === NONE) this.first[p] = c;
      else this.next[l] = c;
      l = c;
    }
    if (l === NONE) this.first[p] = NONE;
    else this.next[l] = NONE;
    this.last[p] = l;
  }
}

/** Orders messages (by index into `msgs`) by sent date, then sequence number. */
function byDateOf(msgs: readonly ThreadMessage[]): (a: number, b: number) => number {
  return (a, b) => {
    const x = msgs[a]!;
    const y = msgs[b]!;
    return x.date - y.date || x.seq - y.seq;
  };
}

/** ORDEREDSUBJECT: messages grouped by base subject, each group's first message (by sent date) the
 *  parent of the rest; groups ordered by their first message's sent date. */
export function threadOrderedSubject(msgs: readonly ThreadMessage[]): ThreadTree {
  const byDate = byDateOf(msgs);
  const order = msgs.map((_, i) => i);
  order.sort((a, b) => compareCodepoints(msgs[a]!.subjectKey, msgs[b]!.subjectKey) || byDate(a, b));
  const f = new Forest(msgs.length);
  for (let i = 0; i < msgs.length; i++) f.add();
  const roots: number[] = [];
  let head = NONE;
  for (const m of order) {
    if (head !== NONE && msgs[head]!.subjectKey === msgs[m]!.subjectKey) f.link(head, m);
    else roots.push((head = m));
  }
  roots.sort(byDate);
  return { shown: msgs.map((m) => m.n), firstChild: f.first, nextSibling: f.next, roots };
}

/**
 * REFERENCES' input as columns (message i = the i-th, in ascending sequence order): what is shown, the
 * sequence number and sent date, and the Message-ID and References as numbers (equal numbers exactly
 * for equal IDs; -1: no Message-ID) below `idLimit`. References are already what RFC 5256 threads by
 * (References, else In-Reply-To's first ID; sort-keys.ts).
 */
export interface ThreadColumns {
  readonly count: number;
  readonly shown: ArrayLike<number>;
  readonly seq: ArrayLike<number>;
  readonly date: ArrayLike<number>;
  readonly messageId: ArrayLike<number>;
  /** Message i's references are refs[refStart[i]] up to refs[refStart[i + 1]]. */
  readonly refStart: ArrayLike<number>;
  readonly refs: ArrayLike<number>;
  readonly idLimit: number;
}

/** REFERENCES steps 1 to 4 done: `leads` are the messages whose base subject (and reply flag) step 5
 *  needs (those that date and title a top-level thread); `finish` does steps 5 and 6 with them. */
export interface ReferencesForest {
  readonly leads: readonly number[];
  finish(subjectKey: (i: number) => string | number, replyOrForward: (i: number) => boolean): ThreadTree;
}

/** REFERENCES (RFC 5256 §2.2), steps 1 to 6, over ThreadMessage objects (IDs numbered here). */
export function threadReferences(input: readonly ThreadMessage[]): ThreadTree {
  const msgs = [...input].sort((a, b) => a.seq - b.seq);
  const n = msgs.length;
  const ids = new Map<string, number>();
  const num = (id: string): number => {
    let x = ids.get(id);
    if (x === undefined) ids.set(id, (x = ids.size));
    return x;
  };
  const messageId: number[] = [];
  const refStart: number[] = [];
  const refs: number[] = [];
  for (const m of msgs) {
    messageId.push(m.messageId === null ? -1 : num(m.messageId));
    refStart.push(refs.length);
    for (const r of m.references) refs.push(num(r));
  }
  refStart.push(refs.length);
  const forest = referencesForest({
    count: n, shown: msgs.map((m) => m.n), seq: msgs.map((m) => m.seq), date: msgs.map((m) => m.date),
    messageId, refStart, refs, idLimit: ids.size,
  });
  return forest.finish((i) => msgs[i]!.subjectKey, (i) => msgs[i]!.replyOrForward);
}

/** REFERENCES steps 1 to 4 over columns (no string, no object per message or node). */
export function referencesForest(c: ThreadColumns): ReferencesForest {
  const n = c.count;
  const f = new Forest(2 * n + 16);
  for (let i = 0; i < n; i++) f.add();
  const { date, seq } = c;
  const byDate = (a: number, b: number): number => date[a]! - date[b]! || seq[a]! - seq[b]!;
  // (1) Message IDs: the first (lowest sequence number) message with an ID owns it; a message with
  // none, or with a duplicate, gets a unique one (is simply not findable). owner[id]: its node.
  const owner = new Int32Array(c.idLimit).fill(NONE);
  for (let i = n - 1; i >= 0; i--) {
    // Backwards, so that the lowest sequence number's is the last written.
    const id = c.messageId[i]!;
    if (id >= 0) owner[id] = i;
  }
  const { refStart, refs } = c;
  for (let cur = 0; cur < n; cur++) {
    // (1A) Link the references together, each the parent of the next, without changing a link that
    // exists and without closing a loop.
    let prev = NONE;
    for (let k = refStart[cur]!, end = refStart[cur + 1]!; k < end; k++) {
      const id = refs[k]!;
      let x = owner[id]!;
      if (x === NONE) owner[id] = x = f.add(); // a dummy
      if (prev !== NONE && x !== prev && f.parent[x] === NONE && !f.wouldLoop(prev, x)) f.link(prev, x);
      prev = x;
    }
    // (1B) The last reference (or none) is the message's parent: an existing link is replaced.
    f.unlink(cur);
    if (prev !== NONE && prev !== cur && !f.wouldLoop(prev, cur)) f.link(prev, cur);
  }
  const isMsg = (x: number): boolean => x < n;
  // (2) The root set.
  let roots: number[] = [];
  for (let x = 0; x < f.size; x++) if (f.parent[x] === NONE) roots.push(x);
  // (3) Prune dummies: childless ones go; others give their children to their parent's level, at the
  // top level only when there is just one. Children before their parents (a reversed pre-order).
  const pre: number[] = [];
  const stack = [...roots];
  while (stack.length) {
    const x = stack.pop()!;
    pre.push(x);
    for (let c = f.first[x]!; c !== NONE; c = f.next[c]!) stack.push(c);
  }
  for (let i = pre.length - 1; i >= 0; i--) {
    const p = pre[i]!;
    let dummyChild = false;
    for (let c = f.first[p]!; c !== NONE; c = f.next[c]!) if (!isMsg(c)) { dummyChild = true; break; }
    if (!dummyChild) continue;
    const out: number[] = [];
    for (const c of f.children(p)) {
      if (isMsg(c)) out.push(c);
      else for (let g = f.first[c]!; g !== NONE; g = f.next[g]!) out.push(g); // childless: nothing
    }
    f.setChildren(p, out);
  }
  {
    const out: number[] = [];
    for (const r of roots) {
      if (isMsg(r)) out.push(r);
      else if (f.first[r] === NONE) continue;
      else if (f.next[f.first[r]!] === NONE) {
        const c = f.first[r]!;
        f.parent[c] = NONE;
        f.prev[c] = NONE;
        f.first[r] = f.last[r] = NONE;
        out.push(c);
      } else out.push(r);
    }
    roots = out;
  }
  // The message a node is dated and titled by: itself, or a dummy's first child's (down the first
  // children: a dummy may hold a dummy after step 5).
  const lead = (x: number): number => {
    while (x !== NONE && !isMsg(x)) x = f.first[x]!;
    return x;
  };
  const compareNodes = (a: number, b: number): number => {
    const x = lead(a);
    const y = lead(b);
    if (x === NONE || y === NONE) return x !== NONE ? 1 : y !== NONE ? -1 : 0;
    return byDate(x, y);
  };
  const sortChildren = (p: number): void => {
    const c = f.first[p]!;
    if (c === NONE || f.next[c] === NONE) return;
    f.setChildren(p, f.children(p).sort(compareNodes));
  };
  // (4) Sort the top level by sent date (a dummy by its earliest child).
  for (const r of roots) if (!isMsg(r)) sortChildren(r);
  roots.sort(compareNodes);
  const leads: number[] = [];
  for (const r of roots) {
    const l = lead(r);
    if (l !== NONE) leads.push(l);
  }
  const finish = (subjectKey: (i: number) => string | number, replyOrForward: (i: number) => boolean): ThreadTree => {
    // (5) Gather the top level by base subject: its i;unicode-casemap key, or a number standing for it
    // (equal numbers exactly for equal keys: Mailbox.keyColumns' subjects); '' or -1 for none.
    const subjectOf = (x: number): string | number => {
      const l = lead(x);
      return l === NONE ? '' : subjectKey(l);
    };
    // The table: one entry per base subject, found once per thread (`entry[i]`, shared by the threads
    // of a subject), so the merge pass below looks nothing up and skips subjects with one thread.
    const table = new Map<string | number, { t: number; count: number }>();
    const entry: ({ t: number; count: number } | null)[] = [];
    for (let i = 0; i < roots.length; i++) {
      const x = roots[i]!;
      const subj = subjectOf(x);
      if (subj === '' || subj === -1) { entry.push(null); continue; }
      let e = table.get(subj);
      if (e === undefined) table.set(subj, (e = { t: x, count: 0 }));
      else if (isMsg(e.t) && (!isMsg(x) || (replyOrForward(e.t) && !replyOrForward(x)))) e.t = x;
      e.count++;
      entry.push(e);
    }
    const removed = new Set<number>();
    const replaced = new Map<number, number>();
    for (let i = 0; i < roots.length; i++) {
      const e = entry[i];
      if (!e || e.count === 1) continue;
      const x = roots[i]!;
      const t = e.t;
      if (t === x) continue;
      if (!isMsg(t) && !isMsg(x)) {
        for (const c of f.children(x)) { f.parent[c] = NONE; f.link(t, c); }
        f.first[x] = f.last[x] = NONE;
      } else if (!isMsg(t)) {
        f.link(t, x);
      } else if (isMsg(x) && replyOrForward(x) && !replyOrForward(t)) {
        f.link(t, x);
      } else {
        const d = f.add();
        replaced.set(t, d);
        f.link(d, t);
        f.link(d, x);
        e.t = d;
      }
      removed.add(x);
    }
    if (removed.size || replaced.size) {
      const seen = new Set<number>();
      const out: number[] = [];
      for (let r of roots) {
        if (removed.has(r)) continue;
        // A table entry may have been wrapped more than once.
        for (let w = replaced.get(r); w !== undefined; w = replaced.get(r)) r = w;
        if (!seen.has(r)) { seen.add(r); out.push(r); }
      }
      roots = out;
    }
    // (6) Sort every set of siblings by sent date, deepest first; a dummy by its first child.
    pre.length = 0;
    for (const r of roots) stack.push(r); // not push(...roots): too many arguments for a big mailbox
    while (stack.length) {
      const x = stack.pop()!;
      pre.push(x);
      for (let c = f.first[x]!; c !== NONE; c = f.next[c]!) stack.push(c);
    }
    for (let i = pre.length - 1; i >= 0; i--) sortChildren(pre[i]!);
    roots.sort(compareNodes);
    const shown = new Int32Array(f.size);
    for (let i = 0; i < f.size; i++) shown[i] = i < n ? c.shown[i]! : NONE;
    return { shown, firstChild: f.first, nextSibling: f.next, roots };
  };
  return { leads, finish };
}

// Work items of formatThreads' stack besides nodes (which are >= 0).
const OPEN = -2;
const CLOSE = -3;

/** The THREAD response's thread-list: "(1 2 (3)(4 5))(6)". */
export function formatThreads(tree: ThreadTree): string {
  const { shown, firstChild, nextSibling } = tree;
  let out = '';
  const stack: number[] = [];
  const rev: number[] = [];
  for (const r of tree.roots) {
    out += '(';
    stack.push(CLOSE, r);
    while (stack.length) {
      const x = stack.pop()!;
      if (x === OPEN) { out += '('; continue; }
      if (x === CLOSE) { out += ')'; continue; }
      // A node's members: its number, then its one child's, or each child's in parentheses.
      const c = firstChild[x]!;
      const s = shown[x]!;
      if (s !== NONE) {
        out += s;
        if (c === NONE) continue;
        out += ' ';
        if (nextSibling[c] === NONE) { stack.push(c); continue; }
      }
      rev.length = 0;
      for (let k = c; k !== NONE; k = nextSibling[k]!) rev.push(k);
      for (let k = rev.length - 1; k >= 0; k--) stack.push(CLOSE, rev[k]!, OPEN);
    }
  }
  return out;
}
