// Byte-stuffing, TOP cutting and streaming of RETR/TOP bodies, fed in every possible chunking.
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { DotStuffer, TopLimiter, streamResponse } from '../../src/pop3/message-writer.js';

function chunked(text: string, size: number): Buffer[] {
  const b = Buffer.from(text, 'latin1');
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

async function respond(text: string, size: number, top?: number): Promise<string> {
  const out: Buffer[] = [];
  const sink = { write: (d: string | Buffer) => { out.push(Buffer.from(d)); return true; }, drain: async () => undefined };
  const ok = await streamResponse(sink, '+OK\r\n', Readable.from(chunked(text, size)), top);
  expect(ok).toBe(true);
  return Buffer.concat(out).toString('latin1');
}

const MSG = 'Subject: x\r\nX-A: .dot\r\n\r\n.line1\r\nline2\r\n..two\r\n.\r\nend\r\n';

describe('DotStuffer', () => {
  it('doubles a leading dot on every line, whatever the chunking', async () => {
    for (let size = 1; size <= MSG.length; size++) {
      expect(await respond(MSG, size)).toBe(
        '+OK\r\nSubject: x\r\nX-A: .dot\r\n\r\n..line1\r\nline2\r\n...two\r\n..\r\nend\r\n.\r\n');
    }
  });

  it('adds CRLF before the terminator when the message lacks a final line ending', async () => {
    expect(await respond('a\r\n\r\nbody', 3)).toBe('+OK\r\na\r\n\r\nbody\r\n.\r\n');
    expect(await respond('', 3)).toBe('+OK\r\n.\r\n');
    const s = new DotStuffer();
    s.push(Buffer.from('x\r'));
    expect(s.finish().toString()).toBe('\n.\r\n');
  });

  it('stuffs a dot at the very start of the message', () => {
    const s = new DotStuffer();
    expect(s.push(Buffer.from('.a\r\n.')).toString()).toBe('..a\r\n..');
    expect(s.push(Buffer.from('b\r\n')).toString()).toBe('b\r\n');
  });
});

describe('TopLimiter / TOP', () => {
  it('TOP 0 gives the header and the blank line, for every chunking', async () => {
    for (let size = 1; size <= MSG.length; size++) {
      expect(await respond(MSG, size, 0)).toBe('+OK\r\nSubject: x\r\nX-A: .dot\r\n\r\n.\r\n');
    }
  });

  it('TOP n gives n body lines, stuffed', async () => {
    for (let size = 1; size <= MSG.length; size += 3) {
      expect(await respond(MSG, size, 2)).toBe('+OK\r\nSubject: x\r\nX-A: .dot\r\n\r\n..line1\r\nline2\r\n.\r\n');
    }
  });

  it('a huge n gives the whole message; a message without a body gives all of it', async () => {
    expect(await respond(MSG, 7, Number.MAX_SAFE_INTEGER)).toBe(await respond(MSG, 7));
    expect(await respond('A: b\r\nC: d\r\n', 4, 0)).toBe('+OK\r\nA: b\r\nC: d\r\n.\r\n');
  });

  it('finished once the limit is reached, so the rest is never read', () => {
    const t = new TopLimiter(1);
    expect(t.push(Buffer.from('H: v\r\n\r\nl1\r\nl2\r\n')).toString()).toBe('H: v\r\n\r\nl1\r\n');
    expect(t.finished).toBe(true);
    expect(t.push(Buffer.from('more')).length).toBe(0);
  });

  it('treats CR and LF split across chunks as one blank line', () => {
    const t = new TopLimiter(0);
    const out = ['H: v\r', '\n\r', '\nbody\r\n'].map((c) => t.push(Buffer.from(c)).toString()).join('');
    expect(out).toBe('H: v\r\n\r\n');
  });
});

describe('streamResponse', () => {
  it('writes no status when the message cannot be read at all', async () => {
    const out: string[] = [];
    const sink = { write: (d: string | Buffer) => { out.push(String(d)); return true; }, drain: async () => undefined };
    const failing = new Readable({ read() { this.destroy(new Error('gone')); } });
    expect(await streamResponse(sink, '+OK\r\n', failing)).toBe(false);
    expect(out).toEqual([]);
  });

  it('throws when the stream fails midway, and when the client stops reading', async () => {
    const sink = { write: () => true, drain: async () => undefined };
    let n = 0;
    const midway = new Readable({ read() { if (n++ === 0) this.push(Buffer.from('a\r\n')); else this.destroy(new Error('io')); } });
    await expect(streamResponse(sink, '+OK\r\n', midway)).rejects.toThrow('io');
    const full = { write: (d: string | Buffer) => String(d).startsWith('+OK'), drain: async () => undefined };
    await expect(streamResponse(full, '+OK\r\n', Readable.from([Buffer.from('x\r\n')]))).rejects.toThrow(/not reading/);
  });

  it('waits for drain while streaming a large body', async () => {
    let drains = 0;
    let bytes = 0;
    const sink = { write: (d: string | Buffer) => { bytes += Buffer.byteLength(d); return true; }, drain: async () => { drains++; } };
    const line = Buffer.from('x'.repeat(1022) + '\r\n');
    const chunks = Array.from({ length: 4096 }, () => line); // 4 MB
    expect(await streamResponse(sink, '+OK\r\n', Readable.from(chunks))).toBe(true);
    expect(bytes).toBe(5 + 4096 * 1024 + 3);
    expect(drains).toBeGreaterThanOrEqual(15);
  });
});
