// Facts about a message file that its name may not carry: sizes (for files an MDA delivered without
// S=/W=) and the POP3 UIDL of its own `X-UIDL:` header (Decision 9). Read in chunks, so a huge
// message never has to fit in memory.

import { promises as fsp } from 'node:fs';

const LF = 0x0a;
const CR = 0x0d;
const CHUNK = 256 * 1024;
/** Header bytes searched for X-UIDL; a header longer than this has no UIDL for us. */
const HEADER_LIMIT = 64 * 1024;

export interface FileFacts {
  size: number;
  vsize: number;
  uidl?: string;
}

/** RFC 1939: a UIDL is 1 to 70 characters in the range 0x21 to 0x7E. */
export function headerUidl(head: Buffer): string | undefined {
  let end = head.indexOf('\n\n');
  const crlfEnd = head.indexOf('\r\n\r\n');
  if (crlfEnd >= 0 && (end < 0 || crlfEnd < end)) end = crlfEnd;
  const text = head.subarray(0, end < 0 ? head.length : end).toString('latin1');
  const m = /^X-UIDL:[ \t]*([\x21-\x7e]{1,70})[ \t]*\r?$/im.exec(text);
  return m?.[1];
}

export async function measureFile(path: string, needSizes: boolean): Promise<FileFacts> {
  const fh = await fsp.open(path, 'r');
  try {
    // Sized to the file: most messages are small, and a 256 KB buffer per message would make
    // numbering 10 000 new messages spend its time allocating.
    const fileSize = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK, needSizes ? fileSize : Math.min(fileSize, HEADER_LIMIT))));
    let size = 0;
    let vsize = 0;
    let prevCr = false;
    let head: Buffer | undefined;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, needSizes ? null : 0);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (!head) head = needSizes ? Buffer.from(chunk.subarray(0, HEADER_LIMIT)) : chunk;
      if (!needSizes) break;
      size += bytesRead;
      vsize += bytesRead;
      let i = chunk.indexOf(LF);
      while (i >= 0) {
        const before = i === 0 ? prevCr : chunk[i - 1] === CR;
        if (!before) vsize += 1;
        i = chunk.indexOf(LF, i + 1);
      }
      prevCr = chunk[bytesRead - 1] === CR;
    }
    return { size, vsize, uidl: head ? headerUidl(head) : undefined };
  } finally {
    await fh.close();
  }
}
