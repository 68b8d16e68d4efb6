// Facts about a message file that its name may not carry: sizes (for files an MDA delivered without
// S=/W=) and the POP3 UIDL of its own `X-UIDL:` header (Decision 9). Read in chunks, so a huge
// message never has to fit in memory.

import { closeSync, constants, fstatSync, openSync, promises as fsp, readSync } from 'node:fs';

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

/** Files up to this size are measured with synchronous calls (see measureSmallSync). */
const SMALL = 1024 * 1024;

/** measureFile for the common case of a small file, with synchronous calls: numbering 10 000 freshly
 *  delivered messages is then four cheap syscalls per file instead of five round trips through the
 *  thread pool (this process serves one client, so a short block of the event loop costs nobody).
 *  Opened non-blocking so that a FIFO posing as a message cannot hang us. 'big' means "use
 *  measureFile"; 'not-file' means a FIFO, device or directory that is no message. Throws like fs. */
export function measureSmallSync(path: string, needSizes: boolean): (FileFacts & { mtimeMs: number }) | 'big' | 'not-file' {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'not-file';
    if (needSizes && st.size > SMALL) return 'big';
    const want = needSizes ? st.size : Math.min(st.size, HEADER_LIMIT);
    const buf = Buffer.allocUnsafe(Math.max(1, want + 1));
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
      if (got === buf.length) {
        if (needSizes) return 'big'; // grew since fstat: let the streaming reader count it
        break;
      }
    }
    const data = buf.subarray(0, got);
    let vsize = got;
    if (needSizes) {
      let i = data.indexOf(LF);
      while (i >= 0) {
        if (i === 0 || data[i - 1] !== CR) vsize += 1;
        i = data.indexOf(LF, i + 1);
      }
    }
    return { size: got, vsize, uidl: headerUidl(data.subarray(0, HEADER_LIMIT)), mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}
