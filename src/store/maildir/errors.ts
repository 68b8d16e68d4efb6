// File-system failures as StoreErrors, so the protocol layers answer with a response code instead of
// a server bug: no permission, disk or quota full, read-only file system.
import { StoreError } from '../types.js';

export function asStoreError(e: unknown): unknown {
  if (e instanceof StoreError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new StoreError('NOPERM', 'Permission denied');
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError('OVERQUOTA', 'Not enough disk space');
    case 'EROFS':
      return new StoreError('CANNOT', 'Mail storage is read-only');
    case 'EMFILE':
    case 'ENFILE':
    case 'EIO':
    case 'ESTALE':
      return new StoreError('UNAVAILABLE', `Temporary storage failure (${code})`);
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
