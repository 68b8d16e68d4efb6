// Bundle a child-process script from test/maildir/fixtures/ for tests that run maildir store code in
// other processes (to race them, or to kill them). fs-ext stays external and is found through
// NODE_PATH, so the child takes real fcntl locks (view slots) like a production process.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from '../helpers/site.js';

export async function buildMaildirWorker(name: string, dir: string): Promise<string> {
  const out = join(dir, `${name}.cjs`);
  await build({
    entryPoints: [join(ROOT, `test/maildir/fixtures/${name}.ts`)], outfile: out, bundle: true,
    platform: 'node', target: 'node20', format: 'cjs', external: ['fs-ext'], logLevel: 'error',
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__u' }, banner: { js: "const __u=require('url').pathToFileURL(__filename).href;" },
  });
  return out;
}

/** Environment for a worker: only what it needs, plus extra variables (e.g. DMAIL_STORE_KILLPOINT). */
export function workerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...extra };
}

export interface Msg { uid: number; modseq: number; flags: string[]; size: number }
export interface View { uidNext: number; uidValidity: number; highestModseq: number; messages: Msg[] }

/** A session-worker process (fixtures/session-worker.ts) and a way to call it. */
export interface RemoteSession {
  readonly child: ChildProcess;
  /** Send one request; resolves with the answer (rejects when the process died first). */
  call<T = Record<string, unknown>>(op: string, args?: Record<string, unknown>): Promise<T & { error?: string }>;
  /** Resolves when the process has exited (after a kill, a killpoint or `exit`). */
  readonly exited: Promise<number | null>;
  kill(): Promise<void>;
}

export async function startSession(worker: string, root: string, extraEnv: Record<string, string> = {}): Promise<RemoteSession> {
  const child = spawn(process.execPath, [worker, root], { stdio: ['pipe', 'pipe', 'inherit'], env: workerEnv(extraEnv) });
  const waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => { ready = r; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`session worker exited (${code})`));
    waiting.clear();
    resolve(code);
  }));
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      if (msg.ready) { ready(); continue; }
      const w = waiting.get(msg.id as number);
      waiting.delete(msg.id as number);
      w?.resolve(msg);
    }
  });
  await Promise.race([isReady, exited.then(() => { throw new Error('session worker died before it was ready'); })]);
  let seq = 0;
  return {
    child,
    exited,
    call: (op, args = {}) => new Promise((resolve, reject) => {
      const id = ++seq;
      waiting.set(id, { resolve: resolve as (v: Record<string, unknown>) => void, reject });
      child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
