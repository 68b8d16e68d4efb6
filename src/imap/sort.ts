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
function keyOf(key: SortKeyName, it: SortItem): number | string {
  switch (key) {
    case 'ARRIVAL':
      return it.info.internalDate.getTime();
    case 'SIZE':
      return it.info.size;
    case 'DATE':
      return sentDate(it.info, it.facts);
    case 'SUBJECT':
      return it.facts?.subjectKey ?? '';
    case 'FROM':
      return it.facts?.fromKey ?? '';
    case 'TO':
      return it.facts?.toKey ?? '';
    case 'CC':
      return it.facts?.ccKey ?? '';
    case 'DISPLAYFROM':
      return it.facts?.displayFromKey ?? '';
    case 'DISPLAYTO':
      return it.facts?.displayToKey ?? '';
  }
}

/** Sorts in place by the criteria, then by sequence number. Each message's keys are worked out once,
 *  before sorting (a column per criterion), so comparisons only compare numbers and strings. */
export function sortItems(items: SortItem[], criteria: readonly SortCriterion[]): SortItem[] {
  const cols = criteria.map((c) => {
    const numeric = c.key === 'ARRIVAL' || c.key === 'SIZE' || c.key === 'DATE';
    return { reverse: c.reverse, numeric, values: items.map((it) => keyOf(c.key, it)) };
  });
  const order = items.map((_, i) => i);
  order.sort((a, b) => {
    for (const col of cols) {
      const x = col.values[a]!;
      const y = col.values[b]!;
      if (x === y) continue;
      const d = col.numeric ? (x as number) - (y as number) : compareCodepoints(x as string, y as string);
      if (d !== 0) return col.reverse ? -d : d;
    }
    return items[a]!.seq - items[b]!.seq;
  });
  const sorted = order.map((i) => items[i]!);
  for (let i = 0; i < sorted.length; i++) items[i] = sorted[i]!;
  return items;
}
