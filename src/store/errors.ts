// File-system failures as StoreErrors, for both back ends (one errno table), so the protocol layers answer
// with a response code instead of a server bug.
import { StoreError } from './types.js';

/** errno → StoreError. A read-only file system is "no permission to write here" (NOPERM), the same
 *  answer as a file the user may not write; a file that vanished is NONEXISTENT. */
export function asStoreError(e: unknown): unknown {
  if (e instanceof StoreError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new StoreError('NOPERM', 'permission denied');
    case 'EROFS':
      return new StoreError('NOPERM', 'mail storage is read-only');
    case 'ELOOP':
      return new StoreError('NOPERM', 'symbolic links are not followed');
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return new StoreError('OVERQUOTA', 'not enough disk space');
    case 'ENOENT':
      return new StoreError('NONEXISTENT', 'mailbox or message vanished');
    case 'EMFILE':
    case 'ENFILE':
    case 'EIO':
    case 'ESTALE':
    // A network file system cut off from its server (GlusterFS: ENOTCONN, then EBADFD on descriptors
    // opened before; NFS: ETIMEDOUT): the operation fails; it is never retried on a reopened file, which
    // would write without the lock the server has meanwhile dropped.
    case 'ENOTCONN':
    case 'EBADFD':
    case 'EBADF':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ECONNABORTED':
      return new StoreError('UNAVAILABLE', `temporary storage failure (${code})`);
    default:
      return e;
  }
}

/** Run `fn`, rethrowing file-system errors as StoreErrors. */
export async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asStoreError(e);
  }
}
