// The in-process mailbox bus: instant change notification among the sessions of one process that have
// the same mailbox open. A change log append (changelog.ts: every append, flag change, expunge and purge
// of a mailbox goes through one) publishes the log's path; every Mailbox.watch() of this process on that
// mailbox is subscribed to it beside its filesystem watch (watch.ts: fs.watch + stat poll), which still
// brings other processes' changes (inetd-mode sessions, the MDA, another worker).
//
// One bus per process serving sessions, owned by its SessionHost (session/host.ts) and handed to each
// user's store when it is opened; never a module global. A store opened without one (dmailctl, tests)
// simply has no in-process notification: the filesystem watch alone then decides, as between processes.

export class MailboxBus {
  private readonly subs = new Map<string, Set<() => void>>();

  /** Call `cb` (on a later turn of the event loop) after every publish of `key`. Returns the unsubscribe. */
  subscribe(key: string, cb: () => void): () => void {
    let set = this.subs.get(key);
    if (!set) this.subs.set(key, (set = new Set()));
    const entry = () => cb();
    set.add(entry);
    return () => {
      const s = this.subs.get(key);
      if (!s) return;
      s.delete(entry);
      if (s.size === 0) this.subs.delete(key);
    };
  }

  /** Tell every subscriber of `key`. Never throws, never calls back synchronously: the publisher is a
   *  writer holding the mailbox lock, and the subscribers' refresh() takes that lock. */
  publish(key: string): void {
    const set = this.subs.get(key);
    if (!set || set.size === 0) return;
    const targets = [...set];
    setImmediate(() => {
      for (const cb of targets) {
        try { cb(); } catch { /* a hint: one subscriber must not stop the others */ }
      }
    });
  }

  /** Keys with subscribers (tests, diagnostics). */
  keys(): string[] {
    return [...this.subs.keys()];
  }
}
