// Sequence sets (RFC 3501 §9 sequence-set): "1,3:5,7:*", ranges in either order, '*' = the largest
// number in use. Resolved against the selected mailbox by sequence number or by UID.

import { ParseError } from './args.js';

/** A range with '*' kept symbolic (Infinity) until resolved. */
export interface SeqRange {
  from: number;
  to: number;
}

const STAR = Number.POSITIVE_INFINITY;

export function parseSequenceSet(text: string): SeqRange[] {
  if (text === '$') throw new ParseError('SEARCHRES is not supported');
  const ranges: SeqRange[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(part);
    if (!m) throw new ParseError('Invalid message sequence set');
    const a = m[1] === '*' ? STAR : Number(m[1]);
    const b = m[2] === undefined ? a : m[2] === '*' ? STAR : Number(m[2]);
    if (a === 0 || b === 0 || a > 0xffffffff && a !== STAR || b > 0xffffffff && b !== STAR) {
      throw new ParseError('Invalid message sequence number');
    }
    ranges.push({ from: Math.min(a, b), to: Math.max(a, b) });
  }
  return ranges;
}

/** Sequence numbers (1-based) selected from a mailbox of `count` messages. Throws if one is out of range
 *  (RFC 3501: a sequence number larger than EXISTS is an error; '*' in an empty mailbox is too). */
export function resolveSeq(ranges: readonly SeqRange[], count: number): number[] {
  const m = merged(ranges, count);
  if (m.length === 0 || m[0]!.lo < 1 || m[m.length - 1]!.hi > count) throw new ParseError('Invalid message sequence number');
  const out: number[] = [];
  for (const r of m) for (let i = r.lo; i <= r.hi; i++) out.push(i);
  return out;
}

/** Ranges with '*' resolved, sorted and merged, for binary search: a set of thousands of ranges
 *  against a mailbox of 100k messages must stay O((n + r) log r), not O(n * r). */
function merged(ranges: readonly SeqRange[], star: number): { lo: number; hi: number }[] {
  const norm = ranges
    .map((r) => {
      const from = r.from === STAR ? star : r.from;
      const to = r.to === STAR ? star : r.to;
      return { lo: Math.min(from, to), hi: Math.max(from, to) };
    })
    .sort((x, y) => x.lo - y.lo);
  const out: { lo: number; hi: number }[] = [];
  for (const r of norm) {
    const prev = out[out.length - 1];
    if (prev && r.lo <= prev.hi + 1) prev.hi = Math.max(prev.hi, r.hi);
    else out.push({ ...r });
  }
  return out;
}

function contains(m: readonly { lo: number; hi: number }[], n: number): boolean {
  let a = 0;
  let b = m.length - 1;
  while (a <= b) {
    const mid = (a + b) >> 1;
    const r = m[mid]!;
    if (n < r.lo) b = mid - 1;
    else if (n > r.hi) a = mid + 1;
    else return true;
  }
  return false;
}

/** Indexes (0-based) of messages whose UIDs fall in the set. Non-existent UIDs are simply skipped;
 *  '*' is the highest UID in use, so "N:*" always includes the last message (RFC 3501 §6.4.8). */
export function resolveUid(ranges: readonly SeqRange[], uids: readonly number[]): number[] {
  const out: number[] = [];
  if (uids.length === 0) return out;
  const m = merged(ranges, uids[uids.length - 1]!);
  uids.forEach((u, i) => {
    if (contains(m, u)) out.push(i);
  });
  return out;
}

/** The UIDs in `ranges` ('*' = star), up to `limit`, that are not in `present` (ascending), as
 *  sequence-set text ('' for none). Walks ranges and UIDs once: a client's "1:*" against a 100k
 *  mailbox never enumerates four billion numbers. For QRESYNC when the change log no longer reaches
 *  back far enough (RFC 7162 §3.2.5.2 lets the server report UIDs that never existed). */
export function missingSet(ranges: readonly SeqRange[], star: number, limit: number, present: readonly number[]): string {
  const parts: string[] = [];
  const emit = (lo: number, hi: number) => parts.push(lo === hi ? `${lo}` : `${lo}:${hi}`);
  let j = 0;
  for (const r of merged(ranges, star)) {
    const hi = Math.min(r.hi, limit);
    let lo = r.lo;
    if (lo > hi) continue;
    while (j < present.length && present[j]! < lo) j++;
    while (lo <= hi) {
      if (j < present.length && present[j]! <= hi) {
        const p = present[j]!;
        if (p > lo) emit(lo, p - 1);
        lo = p + 1;
        j++;
      } else {
        emit(lo, hi);
        break;
      }
    }
  }
  return parts.join(',');
}

/** A membership test for SEARCH's sequence-set and UID keys. */
export function rangeTest(ranges: readonly SeqRange[], star: number): (n: number) => boolean {
  const m = merged(ranges, star);
  return (n) => contains(m, n);
}

/** Numbers as sequence-set text, in the order given: ascending runs of consecutive numbers become
 *  ranges ([1,2,3,5] → "1:3,5"), nothing is reordered (ESORT's ALL is in sort order, RFC 5267). */
export function formatSet(nums: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(i === j ? `${nums[i]}` : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
