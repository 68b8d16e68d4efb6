// SEARCH's first pass (commands/search.ts cheapMatch: flags, UIDs, sequence numbers, sizes, dates,
// modseq, decided synchronously) never contradicts the full evaluation (matches): over random key trees
// mixing cheap keys with header/SENT*/BODY/TEXT keys (whose answers are drawn at random per message),
// whenever the first pass decides, the full evaluation gives the same answer; and it decides every
// tree that has no expensive key; given the message's header facts (fetched ahead in batches) it also
// decides every tree without BODY/TEXT, again never contradicting the full evaluation.
import { describe, expect, it } from 'vitest';
import { cheapMatch, matches, type Ctx } from '../../src/imap/commands/search.js';
import { rangeTest } from '../../src/imap/sequence.js';
import type { SearchKey } from '../../src/imap/search-keys.js';
import { rng } from '../helpers/xorshift.js';

const DAY = 86_400_000;
const needle = Buffer.from('x');

function randomKey(r: () => number, depth: number, cheapOnly: boolean): SearchKey {
  const leaf = (): SearchKey => {
    const c = Math.floor(r() * (cheapOnly ? 9 : 13));
    switch (c) {
      case 0: return { op: 'flag', flag: r() < 0.5 ? '\\Seen' : '\\Flagged', set: r() < 0.5 };
      case 1: return { op: 'uid', ranges: [{ from: 1 + Math.floor(r() * 20), to: 1 + Math.floor(r() * 20) }] };
      case 2: return { op: 'seq', ranges: [{ from: 1 + Math.floor(r() * 20), to: 1 + Math.floor(r() * 20) }] };
      case 3: return { op: 'size', larger: r() < 0.5, n: Math.floor(r() * 2000) };
      case 4: return { op: 'date', field: 'internal', cmp: (['before', 'on', 'since'] as const)[Math.floor(r() * 3)]!, day: Math.floor(r() * 10) * DAY };
      case 5: return { op: 'modseq', n: Math.floor(r() * 10) };
      case 6: return r() < 0.5 ? { op: 'recent' } : r() < 0.5 ? { op: 'new' } : { op: 'old' };
      case 7: return { op: 'age', older: r() < 0.5, seconds: Math.floor(r() * 10 * 86400) };
      case 8: return r() < 0.5 ? { op: 'all' } : { op: 'saved' };
      case 9: return { op: 'header', name: 'Subject', value: needle };
      case 10: return { op: 'body', value: needle };
      case 11: return { op: 'text', value: needle };
      default: return { op: 'date', field: 'sent', cmp: 'since', day: 5 * DAY };
    }
  };
  if (depth <= 0 || r() < 0.3) return leaf();
  const c = r();
  if (c < 0.4) return { op: 'and', keys: Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomKey(r, depth - 1, cheapOnly)) };
  if (c < 0.75) return { op: 'or', a: randomKey(r, depth - 1, cheapOnly), b: randomKey(r, depth - 1, cheapOnly) };
  return { op: 'not', key: randomKey(r, depth - 1, cheapOnly) };
}

function randomCtx(r: () => number): Ctx {
  const flags = new Set<string>();
  if (r() < 0.5) flags.add('\\Seen');
  if (r() < 0.3) flags.add('\\flagged');
  const hit = r() < 0.5;
  const sentDay = r() < 0.2 ? null : Math.floor(r() * 10) * DAY;
  const tests = new Map<SearchKey, (n: number) => boolean>();
  return {
    info: { uid: 1 + Math.floor(r() * 20), flags, size: Math.floor(r() * 2000), internalDate: new Date(Math.floor(r() * 10 * DAY)), recent: r() < 0.3, modseq: Math.floor(r() * 10) },
    seq: 1 + Math.floor(r() * 20), maxSeq: 20, maxUid: 20,
    strings: new Map([[needle, r() < 0.5 ? 'x' : '']]),
    now: 5 * DAY, saved: new Set(r() < 0.5 ? [3, 4, 5] : []),
    content: async () => {
      const text = () => (r() < 0.5 ? 'x' : 'y');
      const body = () => (hit ? 'axb' : 'abc');
      return { body, text, bodyWords: body, textWords: text };
    },
    headers: async () => ({ header: () => (hit ? ['x'] : ['y']), sentDay }),
    test: (k, star) => {
      let f = tests.get(k);
      if (!f) tests.set(k, (f = rangeTest(k.ranges, star)));
      return f;
    },
  };
}

describe('SEARCH two passes', () => {
  it('the cheap pass agrees with the full evaluation whenever it decides', async () => {
    const r = rng(14);
    let decided = 0;
    let open = 0;
    for (let n = 0; n < 2500; n++) {
      const key = randomKey(r, 4, false);
      const seed = Math.floor(r() * 1e9);
      const cheap = cheapMatch(key, randomCtx(rng(seed)));
      const full = await matches(key, randomCtx(rng(seed)));
      if (cheap === null) { open++; continue; }
      decided++;
      expect(cheap, JSON.stringify(key, (k, v) => (k === 'value' ? undefined : v))).toBe(full);
    }
    // Both kinds occur: the property is exercised, not vacuous.
    expect(decided).toBeGreaterThan(600);
    expect(open).toBeGreaterThan(300);
  });

  it('decides every key without header, SENT*, BODY or TEXT keys', async () => {
    const r = rng(5256);
    for (let n = 0; n < 1200; n++) {
      const key = randomKey(r, 4, true);
      const seed = Math.floor(r() * 1e9);
      const cheap = cheapMatch(key, randomCtx(rng(seed)));
      expect(cheap).not.toBeNull();
      expect(cheap).toBe(await matches(key, randomCtx(rng(seed))));
    }
  });

  it('with the facts fetched ahead, agrees too, and leaves only BODY/TEXT open', async () => {
    const r = rng(3501);
    let decided = 0;
    for (let n = 0; n < 2500; n++) {
      const key = randomKey(r, 4, false);
      const seed = Math.floor(r() * 1e9);
      const c = randomCtx(rng(seed));
      const cheap = cheapMatch(key, c, await c.headers());
      const full = await matches(key, randomCtx(rng(seed)));
      const bodyOrText = JSON.stringify(key).match(/"op":"(body|text)"/) !== null;
      if (!bodyOrText) expect(cheap).not.toBeNull();
      if (cheap === null) continue;
      decided++;
      expect(cheap, JSON.stringify(key, (k, v) => (k === 'value' ? undefined : v))).toBe(full);
    }
    expect(decided).toBeGreaterThan(1200);
  });
});
