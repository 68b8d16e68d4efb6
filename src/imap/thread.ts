// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §2.2), as pure functions over message facts,
// and the thread-list response syntax. Nothing here recurses on the depth of a thread: a chain of
// 100k replies is an ordinary input.
import { compareCodepoints } from '../mime/collation.js';

export interface ThreadMessage {
  /** What the response shows: sequence number, or UID for UID THREAD. */
  n: number;
  /** Sequence number (tie-break for equal dates). */
  seq: number;
  /** Sent date (Date: header, or INTERNALDATE when it has none), UTC ms. */
  date: number;
  /** i;unicode-casemap key of the base subject. */
  subjectKey: string;
  replyOrForward: boolean;
  messageId: string | null;
  references: readonly string[];
}

interface Node {
  msg: ThreadMessage | null;
  parent: Node | null;
  children: Node[];
}

const byDate = (a: ThreadMessage, b: ThreadMessage): number => a.date - b.date || a.seq - b.seq;

/** ORDEREDSUBJECT: messages grouped by base subject, each group's first message (by sent date) the
 *  parent of the rest; groups ordered by their first message's sent date. */
export function threadOrderedSubject(msgs: readonly ThreadMessage[]): Node[] {
  const sorted = [...msgs].sort((a, b) => compareCodepoints(a.subjectKey, b.subjectKey) || byDate(a, b));
  const roots: Node[] = [];
  let head: Node | null = null;
  for (const m of sorted) {
    if (head && head.msg!.subjectKey === m.subjectKey) {
      head.children.push({ msg: m, parent: head, children: [] });
    } else {
      head = { msg: m, parent: null, children: [] };
      roots.push(head);
    }
  }
  return roots.sort((a, b) => byDate(a.msg!, b.msg!));
}

function unlink(n: Node): void {
  const p = n.parent;
  if (!p) return;
  const i = p.children.indexOf(n);
  if (i >= 0) p.children.splice(i, 1);
  n.parent = null;
}

/** Would making `parent` the parent of `child` close a loop (is `child` an ancestor of `parent`, or
 *  the same node)? */
function wouldLoop(parent: Node, child: Node): boolean {
  // A node without children is nobody's ancestor: the common case costs no walk up a long chain.
  if (child.children.length === 0) return parent === child;
  for (let p: Node | null = parent; p; p = p.parent) if (p === child) return true;
  return false;
}

function link(parent: Node, child: Node): void {
  child.parent = parent;
  parent.children.push(child);
}

/** Every node under `roots`, children before their parents. */
function postOrder(roots: readonly Node[]): Node[] {
  const out: Node[] = [];
  const stack: Node[] = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    out.push(n);
    for (const c of n.children) stack.push(c);
  }
  return out.reverse();
}

/** The message a node is dated and titled by: itself, or a dummy's first child's. */
function lead(n: Node): ThreadMessage | null {
  return n.msg ?? (n.children[0] ? lead0(n.children[0]) : null);
}
function lead0(n: Node): ThreadMessage | null {
  // Dummies exist only at the top level once pruned, so a child is a message; guard anyway.
  for (let x: Node | undefined = n; x; x = x.children[0]) if (x.msg) return x.msg;
  return null;
}

function compareNodes(a: Node, b: Node): number {
  const x = lead(a);
  const y = lead(b);
  if (!x || !y) return x ? 1 : y ? -1 : 0;
  return byDate(x, y);
}

/** REFERENCES (RFC 5256 §2.2), steps 1 to 6. */
export function threadReferences(msgs: readonly ThreadMessage[]): Node[] {
  const ordered = [...msgs].sort((a, b) => a.seq - b.seq);
  const byId = new Map<string, Node>();
  const all: Node[] = [];
  const own: Node[] = [];
  // (1) Message IDs: the first (lowest sequence number) message with an ID owns it; a message with
  // none, or with a duplicate, gets a unique one (is simply not findable).
  for (const m of ordered) {
    const n: Node = { msg: m, parent: null, children: [] };
    own.push(n);
    all.push(n);
    if (m.messageId !== null && !byId.has(m.messageId)) byId.set(m.messageId, n);
  }
  const container = (id: string): Node => {
    let n = byId.get(id);
    if (!n) {
      n = { msg: null, parent: null, children: [] }; // dummy
      byId.set(id, n);
      all.push(n);
    }
    return n;
  };
  for (const cur of own) {
    // (1A) Link the references together, each the parent of the next, without changing a link that
    // exists and without closing a loop.
    let prev: Node | null = null;
    for (const id of cur.msg!.references) {
      const n = container(id);
      if (prev && n !== prev && n.parent === null && !wouldLoop(prev, n)) link(prev, n);
      prev = n;
    }
    // (1B) The last reference (or none) is the message's parent: an existing link is replaced.
    unlink(cur);
    if (prev && prev !== cur && !wouldLoop(prev, cur)) link(prev, cur);
  }
  // (2) The root set.
  let roots = all.filter((n) => n.parent === null);
  // (3) Prune dummies: childless ones go; others give their children to their parent's level, at
  // the top level only when there is just one.
  const prune = (list: Node[], parent: Node | null): Node[] => {
    const out: Node[] = [];
    for (const n of list) {
      if (n.msg) {
        out.push(n);
      } else if (n.children.length === 0) {
        continue;
      } else if (parent !== null || n.children.length === 1) {
        for (const c of n.children) {
          c.parent = parent;
          out.push(c);
        }
      } else {
        out.push(n);
      }
    }
    return out;
  };
  for (const n of postOrder(roots)) n.children = prune(n.children, n);
  roots = prune(roots, null);
  // (4) Sort the top level by sent date (a dummy by its earliest child).
  for (const n of roots) if (!n.msg) n.children.sort(compareNodes);
  roots.sort(compareNodes);
  // (5) Gather the top level by base subject.
  const subjectOf = (n: Node): string => lead(n)?.subjectKey ?? '';
  const table = new Map<string, Node>();
  for (const n of roots) {
    const subj = subjectOf(n);
    if (subj === '') continue;
    const t = table.get(subj);
    if (!t) table.set(subj, n);
    else if (t.msg && (!n.msg || (t.msg.replyOrForward && !n.msg.replyOrForward))) table.set(subj, n);
  }
  const removed = new Set<Node>();
  const replaced = new Map<Node, Node>();
  for (const n of [...roots]) {
    const subj = subjectOf(n);
    if (subj === '') continue;
    const t = table.get(subj)!;
    if (t === n) continue;
    if (!t.msg && !n.msg) {
      for (const c of n.children) link(t, c);
      n.children = [];
    } else if (!t.msg) {
      link(t, n);
    } else if (n.msg && n.msg.replyOrForward && !t.msg.replyOrForward) {
      link(t, n);
    } else {
      const d: Node = { msg: null, parent: null, children: [] };
      replaced.set(t, d);
      link(d, t);
      link(d, n);
      table.set(subj, d);
    }
    removed.add(n);
  }
  roots = roots.filter((n) => !removed.has(n)).map((n) => {
    // A table entry may have been wrapped more than once.
    let r = n;
    while (replaced.has(r)) r = replaced.get(r)!;
    return r;
  });
  roots = [...new Set(roots)];
  // (6) Sort every set of siblings by sent date, deepest first; a dummy by its first child.
  for (const n of postOrder(roots)) n.children.sort(compareNodes);
  roots.sort(compareNodes);
  return roots;
}

/** The THREAD response's thread-list: "(1 2 (3)(4 5))(6)". */
export function formatThreads(roots: readonly Node[]): string {
  const out: string[] = [];
  // Work items: a string to emit, or a node whose members (n and its descendants) to emit.
  type Item = string | Node;
  const stack: Item[] = [];
  const members = (n: Node): void => {
    // Pushed in reverse, popped in order.
    const items: Item[] = [];
    if (n.msg) {
      items.push(String(n.msg.n));
      if (n.children.length === 1) items.push(' ', n.children[0]!);
      else if (n.children.length > 1) {
        items.push(' ');
        for (const c of n.children) items.push('(', c, ')');
      }
    } else {
      for (const c of n.children) items.push('(', c, ')');
    }
    for (let i = items.length - 1; i >= 0; i--) stack.push(items[i]!);
  };
  for (const r of roots) {
    out.push('(');
    stack.push(')');
    members(r);
    while (stack.length) {
      const x = stack.pop()!;
      if (typeof x === 'string') out.push(x);
      else members(x);
    }
  }
  return out.join('');
}

export type ThreadNode = Node;
