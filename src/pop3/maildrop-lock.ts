// One POP3 session per maildrop (RFC 1939 §4, Decisions 6): an exclusive flock() on `dpop.lock` in the
// user's index directory, held for the session's lifetime. flock belongs to the open file, so a session
// killed with -9 releases it with its descriptor: no stale locks to break. IMAP never takes this lock, so
// IMAP sessions run alongside; spool writes are protected by the store's own locks.

import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export const MAILDROP_LOCK_NAME = 'dpop.lock';

export interface MaildropLock {
  release(): Promise<void>;
}

export type LockResult = { ok: true; lock: MaildropLock } | { ok: false; inUse: boolean; message: string };

interface FlockModule {
  flockSync(fd: number, flags: 'exnb' | 'un'): void;
}

async function loadFlock(): Promise<FlockModule> {
  const mod = (await import('fs-ext')) as unknown as FlockModule & { default?: FlockModule };
  return typeof mod.flockSync === 'function' ? mod : mod.default!;
}

export async function lockMaildrop(indexDir: string): Promise<LockResult> {
  let handle: FileHandle | undefined;
  try {
    await mkdir(indexDir, { recursive: true, mode: 0o700 });
    handle = await open(join(indexDir, MAILDROP_LOCK_NAME), 'a', 0o600);
    const { flockSync } = await loadFlock();
    try {
      flockSync(handle.fd, 'exnb');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      await handle.close();
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        return { ok: false, inUse: true, message: 'maildrop is locked by another POP3 session' };
      }
      return { ok: false, inUse: false, message: `cannot lock maildrop: ${String(code ?? e)}` };
    }
  } catch (e) {
    await handle?.close().catch(() => undefined);
    return { ok: false, inUse: false, message: `cannot lock maildrop: ${(e as Error).message}` };
  }
  const held = handle;
  let released = false;
  return {
    ok: true,
    lock: {
      async release() {
        if (released) return;
        released = true;
        // Closing the descriptor drops the flock.
        await held.close().catch(() => undefined);
      },
    },
  };
}
