// A big message is streamed in pieces (one reused buffer, lines converted piece by piece); the bytes
// must be exactly what read() (clientView) gives, for the whole message and for any range.
import { describe, it, expect, afterEach } from 'vitest';
import { appendFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { tempUser, type TempUser } from './helpers.js';

const users: TempUser[] = [];
afterEach(() => { for (const u of users.splice(0)) u.cleanup(); });

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('streaming a big message', () => {
  it('gives exactly the client view: quoting, CRLF, very long lines, lines across pieces', async () => {
    const u = tempUser();
    users.push(u);
    const lines: string[] = ['From: big@example.com', 'Subject: stream', 'Status: RO', 'X-UID: 1', 'X-IMAPbase: 1700000000 2', ''];
    let i = 0;
    let size = 0;
    while (size < 6 * 1024 * 1024) {
      const k = i % 97;
      let l: string;
      if (k === 0) l = '>From quoted ' + i;
      else if (k === 1) l = '>>From twice ' + i;
      else if (k === 2) l = 'crlf line ' + i + '\r';
      else if (k === 3) l = '';
      else if (k === 50 && i % 3 === 0) l = 'L'.repeat(200_000 + i); // longer than a streaming window part
      else l = `line ${i} ` + 'abcdefghij'.repeat(k % 13);
      lines.push(l);
      size += l.length + 1;
      i++;
    }
    lines.push('last line without newline');
    appendFileSync(u.paths.inbox, `From a@b Tue Jan  2 03:04:05 2024\n${lines.join('\n')}`);
    const box = await u.store().open('INBOX');
    const m = box.state.messages[0]!;
    const whole = await box.read(m.uid);
    expect(whole.length).toBe(m.size);
    expect(whole.includes('\r\nFrom quoted 0\r\n')).toBe(true);
    const streamed = await collect(box.stream(m.uid));
    expect(streamed.length).toBe(whole.length);
    expect(streamed.equals(whole)).toBe(true);
    for (const [s, e] of [[0, 10], [1_048_570, 1_048_600], [3_000_000, 3_300_000], [m.size - 7, m.size], [5, m.size + 100]] as const) {
      expect((await collect(box.stream(m.uid, s, e))).equals(whole.subarray(s, Math.min(e, whole.length)))).toBe(true);
    }
    await box.close();
  });
});
