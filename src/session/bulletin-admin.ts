// Creating bulletins (`dmailctl bulletin add`, like `tellpop bull`): the next id is one more than the
// highest existing one; the file appears atomically (written aside, then link()ed under its final
// name, which fails if a concurrent `add` took that id first; we then try the next id).

import { link, mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { listBulletins } from './bulletins.js';

export function bulletinDir(base: string, domain?: string): string {
  if (domain !== undefined && (!/^[A-Za-z0-9.-]+$/.test(domain) || /^\.+$/.test(domain))) throw new Error(`bad domain name ${domain}`);
  return domain ? join(base, domain.toLowerCase()) : base;
}

/** Text typed for tellpop ends at a line holding a single `.`; piped text may simply end. */
export function bulletinText(input: string): string {
  const lines = input.replace(/\r\n/g, '\n').split('\n');
  const dot = lines.indexOf('.');
  const body = (dot >= 0 ? lines.slice(0, dot) : lines).join('\n');
  return body.endsWith('\n') || body === '' ? body : body + '\n';
}

export async function addBulletin(dir: string, text: string, headers?: string): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.new.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const tmpHdr = `${tmp}.hdr`;
  // Random names, created exclusively (never through something planted in the directory).
  await writeFile(tmp, text, { mode: 0o644, flag: 'wx' });
  if (headers) await writeFile(tmpHdr, headers.endsWith('\n') ? headers : headers + '\n', { mode: 0o644, flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      const id = ((await listBulletins(dir)).at(-1)?.id ?? 0) + 1;
      const name = String(id).padStart(3, '0');
      // Headers first: a login that sees nnn.txt must also see its nnn.hdr.
      if (headers) {
        try { await link(tmpHdr, join(dir, `${name}.hdr`)); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue; throw e; }
      }
      try {
        await link(tmp, join(dir, `${name}.txt`));
        return id;
      } catch (e) {
        if (headers) await unlink(join(dir, `${name}.hdr`)).catch(() => undefined);
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    throw new Error('could not pick a bulletin id (too many concurrent adds)');
  } finally {
    await unlink(tmp).catch(() => undefined);
    if (headers) await unlink(tmpHdr).catch(() => undefined);
  }
}
