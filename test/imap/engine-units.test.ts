// Unit tests of the protocol engine's pure parts: input queue, command framing, tokenizer, sequence
// sets, modified UTF-7 and mailbox-name checks. Protocol behaviour is tested against the binary.
import { describe, expect, it } from 'vitest';
import { InputQueue } from '../../src/imap/input.js';
import { readCommand, type FramedCommand } from '../../src/imap/framer.js';
import { Args, ParseError } from '../../src/imap/args.js';
import { parseSequenceSet, resolveSeq, resolveUid, formatSet } from '../../src/imap/sequence.js';
import { decodeMutf7, encodeMutf7 } from '../../src/imap/mutf7.js';
import { canonicalName, NameError } from '../../src/imap/mailbox-name.js';
import { parseFetchItems } from '../../src/imap/fetch-items.js';
import { parseSearch } from '../../src/imap/search-keys.js';
import { parseDateTime } from '../../src/imap/wire.js';

const limits = { maxLine: 100, appendLimit: 1000, otherLiteralLimit: 100 };

function feed(...chunks: string[]): InputQueue {
  const q = new InputQueue();
  for (const c of chunks) q.push(Buffer.from(c, 'latin1'));
  q.end();
  return q;
}

describe('framer', () => {
  it('splits pipelined commands and handles both literal kinds', async () => {
    const q = feed('a1 NOOP\r\na2 LOGIN {3}\r\nbob {4+}\r\npass\r\na3 ', 'CAPABILITY\r\n');
    let conts = 0;
    const hooks = { continuation: () => conts++ };
    const f1 = (await readCommand(q, limits, hooks)) as FramedCommand;
    expect(f1.text).toBe('a1 NOOP');
    const f2 = (await readCommand(q, limits, hooks)) as FramedCommand;
    expect(f2.text).toBe('a2 LOGIN \0 \0');
    expect(f2.literals.map((b) => b.toString())).toEqual(['bob', 'pass']);
    expect(conts).toBe(1); // only the synchronising literal asked for a continuation
    expect(((await readCommand(q, limits, hooks)) as FramedCommand).text).toBe('a3 CAPABILITY');
    expect(await readCommand(q, limits, hooks)).toBeNull();
  });

  it('refuses an over-long line with the recovered tag and keeps going', async () => {
    const q = feed(`x1 NOOP ${'a'.repeat(500)}\r\nx2 NOOP\r\n`);
    const f = await readCommand(q, limits, { continuation: () => {} });
    expect(f).toEqual({ kind: 'error', tag: 'x1', response: 'x1 BAD Command line too long' });
    expect(((await readCommand(q, limits, { continuation: () => {} })) as FramedCommand).text).toBe('x2 NOOP');
  });

  it('answers TOOBIG for an APPEND literal over the limit without reading it', async () => {
    let conts = 0;
    const q = feed('a APPEND INBOX {5000}\r\nb NOOP\r\n');
    const f = await readCommand(q, limits, { continuation: () => conts++ });
    expect(f?.kind).toBe('error');
    expect((f as { response: string }).response).toMatch(/^a NO \[TOOBIG\]/);
    expect(conts).toBe(0);
    expect(((await readCommand(q, limits, { continuation: () => {} })) as FramedCommand).text).toBe('b NOOP');
  });

  it('discards a too-big LITERAL+ payload and the rest of its command', async () => {
    const q = feed(`a APPEND INBOX {1500+}\r\n${'x'.repeat(1500)} more\r\nb NOOP\r\n`);
    const f = await readCommand(q, limits, { continuation: () => {} });
    expect((f as { response: string }).response).toMatch(/^a NO \[TOOBIG\]/);
    expect(((await readCommand(q, limits, { continuation: () => {} })) as FramedCommand).text).toBe('b NOOP');
  });

  it('rejects a non-APPEND literal bigger than the line limit with BAD', async () => {
    const q = feed('a LOGIN {500}\r\n');
    const f = await readCommand(q, limits, { continuation: () => {} });
    expect((f as { response: string }).response).toBe('a BAD Literal too large');
  });

  it('lets the APPEND hook refuse before the continuation', async () => {
    let conts = 0;
    const q = feed('a APPEND INBOX {10}\r\n');
    const f = await readCommand(q, limits, { continuation: () => conts++, checkAppend: async () => 'NO [OVERQUOTA] Quota exceeded' });
    expect((f as { response: string }).response).toBe('a NO [OVERQUOTA] Quota exceeded');
    expect(conts).toBe(0);
  });
});

describe('input queue', () => {
  it('assembles a line that trickles in byte by byte, and recovers after an over-long one', async () => {
    const q = new InputQueue();
    const text = `a1 NOOP ${'x'.repeat(20000)}\r\na2 NOOP\r\n`;
    const reading = q.readLine(100);
    for (const ch of text) q.push(Buffer.from(ch));
    const first = await reading;
    expect(first!.tooLong).toBe(true);
    expect(first!.line.toString().startsWith('a1 NOOP')).toBe(true);
    expect((await q.readLine(100))!.line.toString()).toBe('a2 NOOP');
    q.push(Buffer.from('x'.repeat(5000)));
    q.push(Buffer.from('\nrest\r\n'));
    const long = await q.readLine(30000);
    expect(long!.line.length).toBe(5000);
    expect(q.buffered).toBe(6);
  });
});

describe('tokenizer', () => {
  it('reads atoms, quoted strings with escapes, literals and lists', () => {
    const a = new Args('"a \\"b\\" \\\\" \0 (x y) atom]', [Buffer.from('lit')]);
    expect(a.astring()).toBe('a "b" \\');
    a.sp();
    expect(a.astring()).toBe('lit');
    a.sp();
    const items: string[] = [];
    a.list(() => items.push(a.atom()));
    expect(items).toEqual(['x', 'y']);
    a.sp();
    expect(a.astring()).toBe('atom]');
    a.end();
  });

  it('throws ParseError on bad syntax', () => {
    expect(() => new Args('"unterminated', []).astring()).toThrow(ParseError);
    expect(() => new Args('"bad \\x escape"', []).astring()).toThrow(ParseError);
    expect(() => new Args('(a b', []).list(() => {})).toThrow(ParseError);
  });
});

describe('sequence sets', () => {
  it('parses ranges in any order and star', () => {
    expect(resolveSeq(parseSequenceSet('4:2,7,*'), 9)).toEqual([2, 3, 4, 7, 9]);
    expect(resolveSeq(parseSequenceSet('*:8'), 9)).toEqual([8, 9]);
    expect(() => resolveSeq(parseSequenceSet('10'), 9)).toThrow(ParseError);
    expect(() => resolveSeq(parseSequenceSet('1:*'), 0)).toThrow(ParseError);
    expect(() => parseSequenceSet('0')).toThrow(ParseError);
    expect(() => parseSequenceSet('1,,2')).toThrow(ParseError);
  });

  it('resolves UID sets against present UIDs only', () => {
    expect(resolveUid(parseSequenceSet('5:*'), [1, 3, 7, 9])).toEqual([2, 3]);
    expect(resolveUid(parseSequenceSet('100:*'), [1, 3])).toEqual([1]); // '*' is the highest UID
    expect(resolveUid(parseSequenceSet('1:*'), [])).toEqual([]);
    expect(formatSet([1, 2, 3, 5, 7, 8])).toBe('1:3,5,7:8');
    expect(resolveUid(parseSequenceSet('9:7,1:3,2:4,8'), [1, 3, 4, 5, 8, 9, 10])).toEqual([0, 1, 2, 4, 5]);
    expect(resolveSeq(parseSequenceSet('3,1:2,2:3,*'), 5)).toEqual([1, 2, 3, 5]);
    // Thousands of ranges against a big mailbox: merged and binary-searched, so this is quick.
    const many = Array.from({ length: 20000 }, (_, i) => `${i * 5 + 1}`).join(',');
    const uids = Array.from({ length: 100000 }, (_, i) => i + 1);
    expect(resolveUid(parseSequenceSet(many), uids).length).toBe(20000);
  });
});

describe('modified UTF-7', () => {
  it('round-trips the RFC 3501 example and ampersands', () => {
    const name = '~peter/mail/台北/日本語';
    expect(encodeMutf7(name)).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    expect(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-')).toBe(name);
    expect(encodeMutf7('a&b')).toBe('a&-b');
    expect(decodeMutf7('Entw&APw-rfe')).toBe('Entwürfe');
  });

  it('rejects invalid encodings', () => {
    expect(decodeMutf7('&Jjo!')).toBeNull();
    expect(decodeMutf7('&AGE-')).toBeNull(); // encodes plain 'a'
    expect(decodeMutf7('a\u00e9')).toBeNull();
  });
});

describe('mailbox names', () => {
  it('folds INBOX and converts raw UTF-8', () => {
    expect(canonicalName(Buffer.from('inbox'))).toBe('INBOX');
    expect(canonicalName(Buffer.from('Entwürfe'))).toBe('Entw&APw-rfe');
    expect(canonicalName(Buffer.from('a/b/'), { allowTrailingDelimiter: true })).toBe('a/b');
    expect(canonicalName(Buffer.from('a/b/'), { keepTrailingDelimiter: true })).toBe('a/b/');
    expect(canonicalName(Buffer.from('a/b'), { keepTrailingDelimiter: true })).toBe('a/b');
  });

  it('refuses hostile names', () => {
    for (const bad of ['../etc', 'a/../b', '/etc/passwd', '~root', 'a//b', '', 'a/./b']) {
      expect(() => canonicalName(Buffer.from(bad)), bad).toThrow(NameError);
    }
  });
});

describe('LIST wildcards', () => {
  it('matches * and % like RFC 3501, and survives hostile patterns', async () => {
    const { wildcardMatch } = await import('../../src/imap/commands/list.js');
    expect(wildcardMatch('*', 'a/b/c')).toBe(true);
    expect(wildcardMatch('%', 'a/b')).toBe(false);
    expect(wildcardMatch('a/%', 'a/b')).toBe(true);
    expect(wildcardMatch('a/%', 'a/b/c')).toBe(false);
    expect(wildcardMatch('a*c', 'a/b/c')).toBe(true);
    expect(wildcardMatch('%/%', 'a/b')).toBe(true);
    expect(wildcardMatch('INBOX', 'INBOX')).toBe(true);
    expect(wildcardMatch('', '')).toBe(true);
    expect(wildcardMatch('*%'.repeat(500) + 'x', 'a'.repeat(1000))).toBe(false);
  });
});

describe('FETCH and SEARCH grammar', () => {
  it('parses sections, partials and macros', () => {
    const items = parseFetchItems(new Args('(UID BODY.PEEK[1.2.HEADER.FIELDS (Subject From)]<10.20> RFC822.SIZE BODY[])', []));
    expect(items[1]).toMatchObject({ type: 'SECTION', peek: true, label: 'BODY[1.2.HEADER.FIELDS (SUBJECT FROM)]<10>', section: { path: [1, 2], kind: 'HEADER.FIELDS', fields: ['Subject', 'From'] }, partial: { start: 10, length: 20 } });
    expect(items[3]).toMatchObject({ type: 'SECTION', peek: false, section: { path: [] } });
    expect(parseFetchItems(new Args('FAST', [])).map((i) => i.type)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    expect(() => parseFetchItems(new Args('BODY[0]', []))).toThrow(ParseError);
    expect(() => parseFetchItems(new Args('BODY[TEXT', []))).toThrow(ParseError);
    expect(() => parseFetchItems(new Args('BOGUS', []))).toThrow(ParseError);
  });

  it('parses nested search keys, CHARSET and RETURN', () => {
    const r = parseSearch(new Args(' RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM "x" SINCE 1-Feb-2024) NOT 1:3 UNSEEN', []));
    expect(r.charset).toBe('UTF-8');
    expect([...r.returns!.options]).toEqual(['MIN', 'COUNT']);
    expect(r.key).toMatchObject({ op: 'and', keys: [{ op: 'or', a: { op: 'and' }, b: { op: 'not', key: { op: 'seq' } } }, { op: 'flag', flag: '\\Seen', set: false }] });
    expect(() => parseSearch(new Args(' FROM', []))).toThrow(ParseError);
    expect(() => parseSearch(new Args(' BEFORE 31-Foo-2024', []))).toThrow(ParseError);
    expect(() => parseSearch(new Args(' ' + 'NOT '.repeat(200) + 'ALL', []))).toThrow(ParseError);
    expect(() => parseSearch(new Args(' ' + 'SEEN '.repeat(1500).trim(), []))).toThrow(ParseError);
  });

  it('parses date-time with zones', () => {
    expect(parseDateTime('17-Jul-1996 02:44:25 -0700')?.toISOString()).toBe('1996-07-17T09:44:25.000Z');
    expect(parseDateTime(' 7-Jul-1996 02:44:25 +0000')?.toISOString()).toBe('1996-07-07T02:44:25.000Z');
    expect(parseDateTime('7-Jul-1996')).toBeNull();
  });
});
