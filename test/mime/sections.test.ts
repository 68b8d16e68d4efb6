// BODY[section] semantics (RFC 3501 §6.4.5) on nested multiparts and message/rfc822 parts.
import { describe, expect, it } from 'vitest';
import { getSection, parseMessage, sectionRange, type SectionSpec } from '../../src/mime/index.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'utf8');

const NESTED = crlf(`From: a@b.c
To: d@e.f
Subject: nested
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: text/plain; charset=utf-8

part one
--outer
Content-Type: message/rfc822

From: inner@x.y
Subject: inner
X-Extra: yes
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

inner text
--inner
Content-Type: text/html

<b>inner html</b>
--inner--
--outer
Content-Type: message/rfc822

From: single@x.y
Subject: single

single body
--outer--
epilogue
`);

const root = parseMessage(NESTED);
const sec = (spec: SectionSpec): string | null => getSection(NESTED, root, spec)?.toString('utf8') ?? null;

describe('sections of a nested message', () => {
  it('[] is the whole message, HEADER ends with the blank line, TEXT is the rest', () => {
    expect(sec({ path: [] })).toBe(NESTED.toString());
    const header = sec({ path: [], kind: 'HEADER' }) as string;
    expect(header.startsWith('From: a@b.c\r\n')).toBe(true);
    expect(header.endsWith('boundary="outer"\r\n\r\n')).toBe(true);
    expect(header + sec({ path: [], kind: 'TEXT' })).toBe(NESTED.toString());
  });

  it('numbers step into multipart children; the CRLF before a boundary is not part of the body', () => {
    expect(sec({ path: [1] })).toBe('part one');
    expect(sec({ path: [1], kind: 'MIME' })).toBe('Content-Type: text/plain; charset=utf-8\r\n\r\n');
  });

  it('a message/rfc822 part: [n] is the whole encapsulated message, HEADER/TEXT are its own', () => {
    const whole = sec({ path: [2] }) as string;
    expect(whole.startsWith('From: inner@x.y\r\n')).toBe(true);
    // The line break ending a closing boundary stays with the multipart when the next boundary
    // follows at once (Dovecot counts it so; corpus 0128 shows it in the part size).
    expect(whole.endsWith('--inner--\r\n')).toBe(true);
    expect(sec({ path: [2], kind: 'MIME' })).toBe('Content-Type: message/rfc822\r\n\r\n');
    expect(sec({ path: [2], kind: 'HEADER' })).toBe('From: inner@x.y\r\nSubject: inner\r\nX-Extra: yes\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n');
    expect((sec({ path: [2], kind: 'TEXT' }) as string).startsWith('--inner\r\nContent-Type: text/plain')).toBe(true);
  });

  it('nested parts inside the encapsulated multipart, with their MIME headers', () => {
    expect(sec({ path: [2, 1] })).toBe('inner text');
    expect(sec({ path: [2, 2] })).toBe('<b>inner html</b>');
    expect(sec({ path: [2, 2], kind: 'MIME' })).toBe('Content-Type: text/html\r\n\r\n');
  });

  it('a single-part encapsulated message: p.1 is its body and p.1.MIME its header (as Dovecot)', () => {
    expect(sec({ path: [3, 1] })).toBe('single body');
    expect(sec({ path: [3], kind: 'TEXT' })).toBe('single body');
    expect(sec({ path: [3, 1], kind: 'MIME' })).toBe('From: single@x.y\r\nSubject: single\r\n\r\n');
  });

  it('HEADER.FIELDS matches names case-insensitively and keeps message order', () => {
    expect(sec({ path: [], kind: 'HEADER.FIELDS', fields: ['subject', 'FROM'] })).toBe('From: a@b.c\r\nSubject: nested\r\n\r\n');
    expect(sec({ path: [2], kind: 'HEADER.FIELDS', fields: ['x-extra'] })).toBe('X-Extra: yes\r\n\r\n');
    expect(sec({ path: [], kind: 'HEADER.FIELDS', fields: ['X-None'] })).toBe('\r\n');
  });

  it('HEADER.FIELDS.NOT leaves out the named fields', () => {
    expect(sec({ path: [2], kind: 'HEADER.FIELDS.NOT', fields: ['content-type', 'X-EXTRA'] })).toBe('From: inner@x.y\r\nSubject: inner\r\n\r\n');
  });

  it('missing parts are null; HEADER/TEXT of a non-message part are empty; [] has no MIME', () => {
    expect(sec({ path: [4] })).toBeNull();
    expect(sec({ path: [2, 3] })).toBeNull();
    expect(sec({ path: [1, 2] })).toBeNull();
    expect(sec({ path: [0] })).toBeNull();
    expect(sec({ path: [9, 1], kind: 'MIME' })).toBeNull();
    expect(sec({ path: [], kind: 'MIME' })).toBeNull();
    expect(sec({ path: [1], kind: 'HEADER' })).toBe('');
    expect(sec({ path: [1], kind: 'TEXT' })).toBe('');
    expect(sec({ path: [1], kind: 'HEADER.FIELDS', fields: ['From'] })).toBe('');
  });

  it('sectionRange gives the same bytes as getSection for slices, and null for HEADER.FIELDS', () => {
    for (const spec of [{ path: [] }, { path: [2, 1] }, { path: [2], kind: 'TEXT' }, { path: [3, 1], kind: 'MIME' }] as SectionSpec[]) {
      const r = sectionRange(NESTED, root, spec);
      expect(r).not.toBeNull();
      expect(NESTED.subarray(r!.start, r!.end).toString()).toBe(sec(spec));
    }
    expect(sectionRange(NESTED, root, { path: [], kind: 'HEADER.FIELDS', fields: ['From'] })).toBeNull();
    expect(sectionRange(NESTED, root, { path: [7] })).toBeNull();
  });
});

describe('sections of a single-part message', () => {
  const raw = crlf('Subject: hi\nContent-Type: text/plain\n\nline 1\nline 2\n');
  const r = parseMessage(raw);
  it('[1] is the body, [1.MIME] the header, [2] does not exist', () => {
    expect(getSection(raw, r, { path: [1] })?.toString()).toBe('line 1\r\nline 2\r\n');
    expect(getSection(raw, r, { path: [1], kind: 'MIME' })?.toString()).toBe('Subject: hi\r\nContent-Type: text/plain\r\n\r\n');
    expect(getSection(raw, r, { path: [2] })).toBeNull();
    expect(getSection(raw, r, { path: [1, 1] })).toBeNull();
  });

  it('a header without an empty line: HEADER.FIELDS still ends with one, .NOT does not (as Dovecot)', () => {
    const noEol = Buffer.from('Subject: last');
    const p = parseMessage(noEol);
    expect(getSection(noEol, p, { path: [], kind: 'HEADER.FIELDS', fields: ['subject'] })?.toString()).toBe('Subject: last\r\n');
    expect(getSection(noEol, p, { path: [], kind: 'HEADER.FIELDS.NOT', fields: ['subject'] })?.toString()).toBe('');
    const eol = Buffer.from('Subject: x\r\nX-A: 1\r\n');
    const q = parseMessage(eol);
    expect(getSection(eol, q, { path: [], kind: 'HEADER.FIELDS', fields: ['x-a'] })?.toString()).toBe('X-A: 1\r\n\r\n');
    expect(getSection(eol, q, { path: [], kind: 'HEADER.FIELDS', fields: ['x-b'] })?.toString()).toBe('\r\n');
    expect(getSection(eol, q, { path: [], kind: 'HEADER.FIELDS.NOT', fields: ['x-a'] })?.toString()).toBe('Subject: x\r\n');
  });
});
