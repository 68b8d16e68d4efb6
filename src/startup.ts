// How an entry point (src/imapd.ts, src/dpop.ts) starts its main function. Normally at once. Inside
// `node --build-snapshot` (src/build.mjs makes dist/<name>.blob from dist/<name>.snap.cjs, which wraps the
// bundle and defines the hook below), `prepare` runs instead: it evaluates the modules a per-connection
// session needs, so they are part of the V8 start-up snapshot, and main is registered to run after the
// snapshot is deserialized (bin/<name> → dist/<name>-start, which checks the blob before using it).
// Nothing here may open a file, a socket or a native module: a snapshot holds no handles, and the
// wrapper's `require` only reaches Node's built-in modules until the snapshot is deserialized.

/** What the wrapper of dist/<name>.snap.cjs puts on globalThis under this symbol while building. */
export interface SnapshotHook {
  register(main: () => unknown, prepare: () => Promise<unknown>): void;
}

export const SNAPSHOT_HOOK = Symbol.for('dmail.startup-snapshot');

export function startMain(main: () => unknown, prepare: () => Promise<unknown>): void {
  const hook = (globalThis as { [SNAPSHOT_HOOK]?: SnapshotHook })[SNAPSHOT_HOOK];
  if (hook) hook.register(main, prepare);
  else void main();
}
