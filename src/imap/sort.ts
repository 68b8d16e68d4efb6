// SORT criteria (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO) and the comparison they define. Strings
// compare by i;unicode-casemap keys (sort-keys.ts); exact ties go by sequence number.
import { type Args, ParseError } from './args.js';
import type { MessageInfo } from '../store/types.js';
import type { SortFacts } from './sort-keys.js';
import { compareCodepoints } from '../mime/collation.js';

export type SortKeyName = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
export interface SortCriterion {
  key: SortKeyName;
  reverse: boolean;
}

const KEYS = new Set<string>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

/** `(sort-criterion *(SP sort-criterion))`. */
export function parseSortCriteria(a: Args): SortCriterion[] {
  const out: SortCriterion[] = [];
  a.list(() => {
    let word = a.atom().toUpperCase();
    let reverse = false;
    if (word === 'REVERSE') {
      reverse = true;
      a.sp();
      word = a.atom().toUpperCase();
    }
    if (!KEYS.has(word)) throw new ParseError(`Unknown sort key ${word}`);
    out.push({ key: word as SortKeyName, reverse });
  });
  if (!out.length) throw new ParseError('Empty sort criteria');
  if (out.length > 20) throw new ParseError('Too many sort criteria');
  return out;
}

/** Whether the criteria need message headers (ARRIVAL and SIZE come from the index). */
export function needsFacts(criteria: readonly SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== 'ARRIVAL' && c.key !== 'SIZE');
}

export interface SortItem {
  /** Sequence number: the final tie-break. */
  seq: number;
  info: MessageInfo;
  facts: SortFacts | null;
}

/** RFC 5256: the sent date, or INTERNALDATE when the Date: header is missing or unparsable. */
export function sentDate(info: MessageInfo, facts: SortFacts | null): number {
  return facts?.sentDate ?? info.internalDate.getTime();
}

/** A message's key for one criterion: a number (ARRIVAL, SIZE, DATE) or a collation key string. */
function keyOf(key: SortKeyName, info: MessageInfo, facts: SortFacts | null): number | string {
  switch (key) {
    case 'ARRIVAL':
      return info.internalDate.getTime();
    case 'SIZE':
      return info.size;
    case 'DATE':
      return facts?.sentDate ?? info.internalDate.getTime();
    case 'SUBJECT':
      return facts?.subjectKey ?? '';
    case 'FROM':
      return facts?.fromKey ?? '';
    case 'TO':
      return facts?.toKey ?? '';
    case 'CC':
      return facts?.ccKey ?? '';
    case 'DISPLAYFROM':
      return facts?.displayFromKey ?? '';
    case 'DISPLAYTO':
      return facts?.displayToKey ?? '';
  }
}

/**
 * The order the criteria put messages in, then their sequence numbers: positions into `infos` (with
 * `seqs[i]` and `facts[i]` of the same message; facts null when no criterion needs them). Each key is
 * worked out once, before sorting (a column per criterion: numbers in a Float64Array), so comparisons
 * only compare numbers and strings; input already in order (DATE or ARRIVAL of mail delivered in turn)
 * is recognised in one pass and not sorted. `sentDates` (NaN: none), when given, are DATE's keys instead
 * of facts' sentDate. The order is a Uint32Array for one numeric key (no array of 100k numbers).
 */
export function sortOrder(infos: readonly MessageInfo[], seqs: ArrayLike<number>, facts: readonly (SortFacts | null)[] | null, criteria: readonly SortCriterion[], sentDates?: ArrayLike<number>): ArrayLike<number> {
  const n = infos.length;
  const cols = criteria.map((c) => {
    const numeric = c.key === 'ARRIVAL' || c.key === 'SIZE' || c.key === 'DATE';
    const sign = c.reverse ? -1 : 1;
    if (numeric && c.key === 'DATE' && sentDates) {
      // Sent dates given as a column (NaN: none, INTERNALDATE then), instead of facts.
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const d = sentDates[i]!;
        v[i] = Number.isNaN(d) ? infos[i]!.internalDate.getTime() : d;
      }
      return { sign, num: v, str: null };
    }
    if (numeric) {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = keyOf(c.key, infos[i]!, facts ? facts[i]! : null) as number;
      return { sign, num: v, str: null };
    }
    const v: string[] = [];
    for (let i = 0; i < n; i++) v.push(keyOf(c.key, infos[i]!, facts ? facts[i]! : null) as string);
    return { sign, num: null, str: v };
  });
  const one = cols.length === 1 ? cols[0]! : null;
  if (one?.num) {
    const fast = numericOrder(one.num, one.sign, seqs);
    if (fast) return fast;
  }
  const cmp = one?.num
    ? ((v: Float64Array, sign: number) => (a: number, b: number): number => (v[a]! - v[b]!) * sign || seqs[a]! - seqs[b]!)(one.num, one.sign)
    : (a: number, b: number): number => {
      for (const col of cols) {
        let d: number;
        if (col.num) d = col.num[a]! - col.num[b]!;
        else {
          const x = col.str![a]!;
          const y = col.str![b]!;
          d = x === y ? 0 : compareCodepoints(x, y);
        }
        if (d !== 0) return d * col.sign;
      }
      return seqs[a]! - seqs[b]!;
    };
  // Arrays grow by push here and in the SORT/THREAD paths: V8 makes `new Array(n)` of more than
  // 100,000 elements a slow dictionary array.
  const order: number[] = [];
  for (let i = 0; i < n; i++) order.push(i);
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (cmp(i - 1, i) > 0) sorted = false;
  if (!sorted) order.sort(cmp);
  return order;
}

/**
 * The order of one numeric column (times `sign`), ties by sequence number, without a comparator: a
 * stable LSD radix sort (11-bit digits, only as many as the keys' range needs, a pass skipped when every
 * key has the same digit) of the keys less the least, in whole seconds when they all are (Date: headers
 * are), so ties keep the input's (sequence) order. Null when it does not apply: sequence numbers not
 * ascending, or a key not a safe integer (dates and sizes are whole numbers).
 */
function numericOrder(col: Float64Array, sign: number, seqs: ArrayLike<number>): Uint32Array | null {
  const n = col.length;
  let min = Infinity;
  let max = -Infinity;
  let seconds = true;
  for (let i = 0; i < n; i++) {
    const k = col[i]! * sign;
    if (!Number.isSafeInteger(k) || (i > 0 && seqs[i]! <= seqs[i - 1]!)) return null;
    if (k < min) min = k;
    if (k > max) max = k;
    if (k % 1000 !== 0) seconds = false;
  }
  if (!n) return new Uint32Array(0);
  if (!Number.isSafeInteger(max - min)) return null;
  const unit = seconds ? 1000 : 1;
  const range = (max - min) / unit;
  const lo = new Uint32Array(n);
  const hi = range >= 0x100000000 ? new Uint32Array(n) : null;
  for (let i = 0; i < n; i++) {
    const d = (col[i]! * sign - min) / unit;
    lo[i] = d % 0x100000000;
    if (hi) hi[i] = Math.floor(d / 0x100000000);
  }
  let bits = 0;
  for (let r = range; r >= 1; r = Math.floor(r / 2)) bits++;
  let idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let tmp = new Uint32Array(n);
  const count = new Uint32Array(2049);
  // Digits (word, shift, mask, first bit of the key): bits 0-10, 11-21, 22-31 of the low word, then
  // 0-10, 11-20 of the high one.
  const digits: [Uint32Array, number, number, number][] = [[lo, 0, 0x7ff, 0], [lo, 11, 0x7ff, 11], [lo, 22, 0x3ff, 22]];
  if (hi) digits.push([hi, 0, 0x7ff, 32], [hi, 11, 0x3ff, 43]);
  for (let p = 0; p < digits.length && digits[p]![3] < bits; p++) {
    const [word, shift, mask] = digits[p]!;
    count.fill(0);
    for (let i = 0; i < n; i++) count[((word[i]! >>> shift) & mask) + 1]++;
    let same = false;
    for (let b = 1; b <= mask + 1; b++) if (count[b] === n) { same = true; break; }
    if (same) continue;
    for (let b = 1; b <= mask + 1; b++) count[b]! += count[b - 1]!;
    for (let i = 0; i < n; i++) {
      const v = idx[i]!;
      tmp[count[(word[v]! >>> shift) & mask]!++] = v;
    }
    const t = idx;
    idx = tmp;
    tmp = t;
  }
  return idx;
}

/** Sorts in place by the criteria, then by sequence number. */
export function sortItems(items: SortItem[], criteria: readonly SortCriterion[]): SortItem[] {
  const order = sortOrder(items.map((it) => it.info), items.map((it) => it.seq), items.map((it) => it.facts), criteria);
  const sorted = Array.from(order, (i) => items[i]!);
  for (let i = 0; i < sorted.length; i++) items[i] = sorted[i]!;
  return items;
}

/** `<head> n1 n2 ...<tail>` as ASCII bytes, the numbers (non-negative integers) written digit by digit
 *  into one buffer: a SORT answer of 100k numbers makes no string per number. */
export function numberLine(head: string, nums: ArrayLike<number>, tail: string): Buffer {
  let size = head.length + tail.length;
  for (let i = 0; i < nums.length; i++) {
    const v = nums[i]!;
    size += v < 10 ? 2 : v < 100 ? 3 : v < 1000 ? 4 : v < 10000 ? 5 : v < 100000 ? 6 : v < 1000000 ? 7 : String(v).length + 1;
  }
  const b = Buffer.allocUnsafe(size);
  let p = b.write(head, 0, 'latin1');
  for (let i = 0; i < nums.length; i++) {
    let v = nums[i]!;
    b[p++] = 0x20;
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    p += digits;
    for (let q = p - 1; digits-- > 0; q--) {
      b[q] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
  }
  p += b.write(tail, p, 'latin1');
  return b.subarray(0, p);
}
