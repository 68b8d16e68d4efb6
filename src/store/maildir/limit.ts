// Run file-system work for many messages a few at a time: libuv's thread pool overlaps the syscalls,
// while a bound keeps descriptors and memory in check on a 100 000-message maildir. Work that is
// mostly synchronous (small files measured with sync calls) only yields microtasks between items, so
// the event loop is given a turn every SLICE_MS (store/pace.ts): the other sessions of a process that
// serves many (issue 12) are not frozen by a first look at 100 000 new messages.
import { Pacer } from '../pace.js';

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const pace = new Pacer();
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
      if (pace.due()) await pace.pause();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const FS_PARALLEL = 16;
