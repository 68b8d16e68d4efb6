// MIME corpus through the whole server: real-world messages (nested multiparts, message/rfc822, encoded
// words, broken MIME, 8-bit headers, missing boundaries) are APPENDed to the real store and their
// RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY, BODY[HEADER] and every part's BODY[n.MIME] are compared
// with Dovecot 2.3's answers
// (/work/shared/corpus, mbox storage, messages that mbox stores unchanged).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';

const CORPUS = '/work/shared/corpus';

interface Row { message: string; seq: number }

function rows(): Row[] {
  const lines = readFileSync(join(CORPUS, 'dovecot-2.3/INDEX.tsv'), 'utf8').trim().split('\n').slice(1);
  return lines
    .map((l) => l.split('\t'))
    .filter((c) => c[7] === 'OK' && c[8] === 'yes')
    .map((c) => ({ seq: Number(c[0]), message: c[1]! }))
    .filter((_, i) => i % 2 === 0);
}

const normalise = (s: string) => s.replace(/\r\n/g, '\n').replace(/\r$/, '').replace(/^\* \d+ FETCH/, '* N FETCH');

/** Dovecot's FETCH exchanges for a message: the command (sequence number removed) and its answer. */
function exchanges(message: string): { command: string; answer: string }[] {
  const text = readFileSync(join(CORPUS, 'dovecot-2.3', message.replace(/\.eml$/, '.txt')), 'latin1');
  const out: { command: string; answer: string }[] = [];
  let at = text.indexOf('C: FETCH ');
  while (at >= 0) {
    const eol = text.indexOf('\n', at);
    const command = text.slice(at + 3, eol).replace(/\r$/, '').replace(/^FETCH \d+ /, '');
    const end = text.indexOf('\nS: ', eol);
    // BINARY.SIZE is not offered (BINARY is optional); everything else must match.
    if (!command.includes('BINARY')) out.push({ command, answer: normalise(text.slice(eol + 1, end)) });
    at = text.indexOf('C: FETCH ', end);
  }
  return out;
}

let t: TestSite;
let s: Imap;
beforeAll(async () => {
  t = siteWithMessages(0);
  s = await connectImap(t.site);
  await s.login();
  await s.cmd('CREATE Corpus');
});
afterAll(() => {
  s.close();
  t.cleanup();
});

describe('MIME corpus via APPEND + FETCH', () => {
  const list = rows();
  it(`matches Dovecot for ${list.length} varied messages`, async () => {
    let n = 0;
    const mismatches: string[] = [];
    for (const r of list) {
      const raw = readFileSync(join(CORPUS, 'messages', r.message));
      s.send(`a${n} APPEND Corpus {${raw.length}+}\r\n`);
      s.send(Buffer.concat([raw, Buffer.from('\r\n')]));
      const ap = await s.c.until(`a${n} `);
      expect(last(ap), r.message).toMatch(/OK/);
      n++;
    }
    await s.cmd('EXAMINE Corpus');
    let compared = 0;
    for (let i = 0; i < list.length; i++) {
      for (const { command, answer } of exchanges(list[i]!.message)) {
        const got = normalise((await s.cmd(`FETCH ${i + 1} ${command}`)).slice(0, -1).join('\n'));
        compared++;
        if (got === answer) continue;
        let k = 0;
        while (k < got.length && got[k] === answer[k]) k++;
        mismatches.push(`${list[i]!.message} ${command} @${k}\n got: ${got.slice(Math.max(0, k - 80), k + 120)}\nwant: ${answer.slice(Math.max(0, k - 80), k + 120)}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(list.length * 2);
  });
});
