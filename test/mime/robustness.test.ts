// Hostile and broken input: nothing throws, nesting is capped (no stack overflow), sizes stay
// consistent, and huge lines are handled.
import { describe, expect, it } from 'vitest';
import { bodyStructure, bodyText, decodeHeaderValue, envelope, getSection, headerValues, parseMessage, replaceNul, sectionRange, type MimePart } from '../../src/mime/index.js';
import { MAX_DEPTH, MAX_PARTS } from '../../src/mime/parser.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

function exerciseAll(raw: Buffer): void {
  const root = parseMessage(raw);
  envelope(root, raw);
  bodyStructure(root, raw, true);
  bodyStructure(root, raw, false);
  bodyText(raw, root);
  headerValues(raw, root, 'subject');
  for (const path of [[], [1], [1, 1], [2], [1, 2, 1]]) {
    for (const kind of [undefined, 'HEADER', 'TEXT', 'MIME', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT'] as const) {
      getSection(raw, root, { path, kind, fields: ['From', 'subject'] });
      sectionRange(raw, root, { path, kind });
    }
  }
}

function maxDepth(p: MimePart): number {
  let d = 0;
  const stack: [MimePart, number][] = [[p, 0]];
  while (stack.length) {
    const [q, n] = stack.pop() as [MimePart, number];
    d = Math.max(d, n);
    for (const c of q.children) stack.push([c, n + 1]);
    if (q.message) stack.push([q.message, n + 1]);
  }
  return d;
}

describe('robustness', () => {
  it('an empty message is a text/plain body of size 0 with an all-NIL envelope', () => {
    const raw = Buffer.alloc(0);
    const root = parseMessage(raw);
    expect(envelope(root, raw)).toBe('(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
    expect(bodyStructure(root, raw, false)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)');
    expect(getSection(raw, root, { path: [] })?.length).toBe(0);
  });

  it('NUL bytes: no throw; in ENVELOPE/BODYSTRUCTURE values they become U+FFFD, in sections 0x80 (as Dovecot)', () => {
    const raw = crlf('Subject: a\0b\nFrom: x\0y@example.com\nContent-Type: text/plain; name="a\0b"\n\nbody\0\0\n');
    exerciseAll(raw);
    const root = parseMessage(raw);
    expect(envelope(root, raw)).toContain('{5}\r\na\xef\xbf\xbdb');
    expect(bodyStructure(root, raw, false)).toContain('("name" {5}\r\na\xef\xbf\xbdb "charset" "us-ascii")');
    expect(root.bodySize).toBe(8);
    const body = getSection(raw, root, { path: [1] }) as Buffer;
    expect(replaceNul(body).toString('latin1')).toBe('body\x80\x80\r\n');
    expect(body.toString('latin1')).toBe('body\0\0\r\n');
  });

  it('a 10 MB header line is parsed in one pass and returned intact', () => {
    const long = 'x'.repeat(10 * 1024 * 1024);
    const raw = crlf(`Subject: ${long}\nX-Other: 1\n\nbody\n`);
    const root = parseMessage(raw);
    expect(root.fields.length).toBe(2);
    expect(getSection(raw, root, { path: [], kind: 'HEADER.FIELDS', fields: ['x-other'] })?.toString()).toBe('X-Other: 1\r\n\r\n');
    expect(envelope(root, raw).length).toBeGreaterThan(long.length);
    // A 10 MB line without any colon, inside a body part header.
    const raw2 = crlf(`Content-Type: multipart/mixed; boundary=b\n\n--b\n${long}\n\nx\n--b--\n`);
    exerciseAll(raw2);
  });

  it('1000-deep nested multiparts do not overflow the stack: depth is capped', () => {
    let body = 'leaf\n';
    for (let i = 999; i >= 0; i--) body = `Content-Type: multipart/mixed; boundary="b${i}"\n\n--b${i}\n${body}--b${i}--\n`;
    const raw = crlf(`Subject: deep\n${body}`);
    exerciseAll(raw);
    const root = parseMessage(raw);
    expect(maxDepth(root)).toBeLessThanOrEqual(MAX_DEPTH);
    expect(maxDepth(root)).toBeGreaterThan(10);
    expect(bodyStructure(root, raw, true).startsWith('((')).toBe(true);
  });

  it('1000-deep nested message/rfc822 is capped too', () => {
    let msg = 'Subject: leaf\n\nleaf body\n';
    for (let i = 0; i < 1000; i++) msg = `Subject: level ${i}\nContent-Type: message/rfc822\n\n${msg}`;
    const raw = crlf(msg);
    exerciseAll(raw);
    expect(maxDepth(parseMessage(raw))).toBeLessThanOrEqual(MAX_DEPTH);
  });

  it('a message with 50,000 parts is capped at the part limit', () => {
    const parts = Array.from({ length: 50000 }, (_, i) => `--b\n\n${i}\n`).join('');
    const raw = crlf(`Content-Type: multipart/mixed; boundary=b\n\n${parts}--b--\n`);
    const root = parseMessage(raw);
    expect(root.children.length).toBeLessThan(MAX_PARTS);
    expect(root.children.length).toBeGreaterThan(MAX_PARTS - 10);
    exerciseAll(raw);
  });

  it('missing closing boundary and never-found boundary degrade gracefully', () => {
    const noClose = crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly part\n');
    const r1 = parseMessage(noClose);
    expect(r1.children.length).toBe(1);
    expect(getSection(noClose, r1, { path: [1] })?.toString()).toBe('only part\r\n');
    const never = crlf('Content-Type: multipart/mixed; boundary=zzz\n\nno parts here\n');
    const r2 = parseMessage(never);
    expect(bodyStructure(r2, never, false)).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
    expect(getSection(never, r2, { path: [1] })?.length).toBe(0);
    const noBoundaryParam = crlf('Content-Type: multipart/mixed\n\ntext\n');
    // Still a multipart, just without parts (checked against Dovecot 2.3).
    expect(bodyStructure(parseMessage(noBoundaryParam), noBoundaryParam, false)).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
  });

  it('bare LF input is tolerated and sizes count LF as CRLF', () => {
    const raw = Buffer.from('Subject: lf\n\nline1\nline2\n');
    const root = parseMessage(raw);
    expect(root.bodyLines).toBe(2);
    expect(root.bodySize).toBe(14);
    exerciseAll(raw);
  });

  it('random MIME-ish garbage never throws', () => {
    const tokens = ['--b', '--b--', '\r\n', '\n', 'Content-Type: multipart/mixed; boundary=b', 'Content-Type: message/rfc822', 'Content-Type: multipart/digest; boundary="b"', 'From: "a\\" <b@c>', 'To: g: a@b, <c@d>;', 'Subject: =?utf-8?B?', '?=', '(', ')', '"', '<', '>', '@', ',', ';', ':', '\0', '\xff', ' ', '\t', '=?x?Q?=ZZ?='];
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 400; i++) {
      let s = '';
      const len = rnd(80);
      for (let j = 0; j < len; j++) s += tokens[rnd(tokens.length)];
      const raw = Buffer.from(s, 'latin1');
      expect(() => exerciseAll(raw)).not.toThrow();
      expect(() => decodeHeaderValue(raw)).not.toThrow();
    }
  });

  it('a 30 MB base64 attachment parses with correct sizes', () => {
    const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n';
    const n = Math.ceil((30 * 1024 * 1024) / line.length);
    const big = line.repeat(n);
    const raw = Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n${big}--b--\r\n`, 'latin1');
    const root = parseMessage(raw);
    expect(root.children[1].bodySize).toBe(big.length - 2);
    expect(bodyStructure(root, raw, false)).toContain(`"base64" ${big.length - 2})`);
    const r = sectionRange(raw, root, { path: [2] });
    expect(r && r.end - r.start).toBe(big.length - 2);
  });
});
