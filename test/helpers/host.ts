// One process serving many sessions through src/session/host.ts (test/session/fixtures/host-server.ts),
// bundled once per test file: the resident-mode seam without the resident master.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { ROOT } from './site.js';
import { tcpConnect, type Client } from './inetd.js';
import { buildFixture } from '../store/worker-build.js';

export interface HostProcess {
  port: number;
  pid: number;
  /** prelogin mode: the forked worker's pid. */
  worker?: number;
  child: ChildProcess;
  stderr(): string;
  connect(): Promise<Client>;
  /** Resolves with the exit code and signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Bundle the fixture once for the calling test file; returns a starter. */
export function hostFixture(): (mode: 'serve' | 'prelogin', program: 'imapd' | 'dpop', conf: string, env?: Record<string, string>) => Promise<HostProcess> {
  let dir = '';
  let script = '';
  const started: HostProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dmail-host-'));
    script = await buildFixture('test/session/fixtures/host-server.ts', dir);
  });
  afterAll(async () => {
    for (const h of started) { h.kill('SIGKILL'); if (h.worker) try { process.kill(h.worker, 'SIGKILL'); } catch { /* gone */ } }
    await Promise.all(started.map((h) => h.exited));
    rmSync(dir, { recursive: true, force: true });
  });
  return async (mode, program, conf, env = {}) => {
    const child = spawn(process.execPath, [script, mode, program, conf], {
      env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const first = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) res(out.slice(0, nl));
      });
      void exited.then((e) => rej(new Error(`host exited (${e.code ?? e.signal}) before listening: ${err}`)));
    });
    const info = JSON.parse(first) as { port: number; pid: number; worker?: number };
    const h: HostProcess = {
      ...info, child, exited,
      stderr: () => err,
      connect: () => tcpConnect(info.port, child, () => err),
      kill: (sig = 'SIGTERM') => { try { child.kill(sig); } catch { /* gone */ } },
    };
    started.push(h);
    return h;
  };
}
