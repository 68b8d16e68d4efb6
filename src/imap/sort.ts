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

function compareOne(key: SortKeyName, a: SortItem, b: SortItem): number {
  switch (key) {
    case 'ARRIVAL':
      return a.info.internalDate.getTime() - b.info.internalDate.getTime();
    case 'SIZE':
      return a.info.size - b.info.size;
    case 'DATE':
      return sentDate(a.info, a.facts) - sentDate(b.info, b.facts);
    case 'SUBJECT':
      return compareCodepoints(a.facts?.subjectKey ?? '', b.facts?.subjectKey ?? '');
    case 'FROM':
      return compareCodepoints(a.facts?.fromKey ?? '', b.facts?.fromKey ?? '');
    case 'TO':
      return compareCodepoints(a.facts?.toKey ?? '', b.facts?.toKey ?? '');
    case 'CC':
      return compareCodepoints(a.facts?.ccKey ?? '', b.facts?.ccKey ?? '');
    case 'DISPLAYFROM':
      return compareCodepoints(a.facts?.displayFromKey ?? '', b.facts?.displayFromKey ?? '');
    case 'DISPLAYTO':
      return compareCodepoints(a.facts?.displayToKey ?? '', b.facts?.displayToKey ?? '');
  }
}

/** Sorts in place by the criteria, then by sequence number. */
export function sortItems(items: SortItem[], criteria: readonly SortCriterion[]): SortItem[] {
  return items.sort((a, b) => {
    for (const c of criteria) {
      const d = compareOne(c.key, a, b);
      if (d !== 0) return c.reverse ? -d : d;
    }
    return a.seq - b.seq;
  });
}
