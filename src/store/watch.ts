// Change notification for Mailbox.watch() (issue 11, backend-neutral). fs.watch (inotify) on each path
// is only a hint that makes the common case fast; a stat-signature poll (size, mtime in ns, inode) of
// every path decides, and also sees changes made on another host sharing the storage. A path that does
// not exist yet (a change log not written so far) is polled and watched once it appears; a path
// replaced by rename (a compacted log, a rewritten uidlist) is watched again on its new inode.

import { watch as fsWatch, statSync, type FSWatcher } from 'node:fs';

const DEBOUNCE_MS = 20;

/** The poll of MailStore.watchMailbox(): a session may watch hundreds of mailboxes at once (NOTIFY), so
 *  their stat poll runs less often; fs.watch still reports local changes at once. */
export const WATCH_MAILBOX_POLL_MS = 2000;

function signature(path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.size}:${st.mtimeNs}:${st.ino}:${st.ctimeNs}`;
  } catch { return '-'; }
}

/**
 * Call `onChange` (debounced) whenever one of `paths` may have changed. Returns the function that stops
 * watching. Never throws for missing paths or filesystems without events.
 */
export function watchPaths(paths: readonly string[], onChange: () => void, pollMs = 500): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const sigs = new Map<string, string>();
  const watchers = new Map<string, { w: FSWatcher; sig: string }>();

  const fire = () => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (stopped) return;
      // What this call reports is seen: the poll fires again only for later changes.
      for (const p of paths) sigs.set(p, signature(p));
      onChange();
    }, DEBOUNCE_MS);
    timer.unref();
  };

  const arm = (p: string, sig: string) => {
    const cur = watchers.get(p);
    const ino = sig.split(':')[2] ?? '';
    if (cur && cur.sig === ino) return;
    cur?.w.close();
    watchers.delete(p);
    if (sig === '-') return;
    try {
      const w = fsWatch(p, { persistent: false }, () => fire());
      w.on('error', () => { w.close(); if (watchers.get(p)?.w === w) watchers.delete(p); });
      watchers.set(p, { w, sig: ino });
    } catch { /* no events here: the poll still sees changes */ }
  };

  for (const p of paths) {
    const sig = signature(p);
    sigs.set(p, sig);
    arm(p, sig);
  }

  const poll = setInterval(() => {
    if (stopped) return;
    let changed = false;
    for (const p of paths) {
      const sig = signature(p);
      if (sig !== sigs.get(p)) {
        sigs.set(p, sig);
        changed = true;
      }
      arm(p, sig);
    }
    if (changed) fire();
  }, pollMs);
  poll.unref();

  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(poll);
    if (timer) clearTimeout(timer);
    for (const { w } of watchers.values()) w.close();
    watchers.clear();
  };
}
