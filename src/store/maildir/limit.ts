// Run file-system work for many messages a few at a time: libuv's thread pool overlaps the syscalls,
// while a bound keeps descriptors and memory in check on a 100 000-message maildir.

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const FS_PARALLEL = 16;
