import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync, openSync, closeSync, rmSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSpool } from '../../src/store/mbox/parse.js';
import { clientView, layoutOf, parseFromLine, restamp, storedForm, FLAG_SEEN, FLAG_OLD, FLAG_FLAGGED } from '../../src/store/mbox/format.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function parseText(text: string | Buffer) {
  const d = mkdtempSync(join(tmpdir(), 'store-parse-'));
  dirs.push(d);
  const f = join(d, 'mbox');
  writeFileSync(f, text);
  const fd = openSync(f, 'r');
  try {
    const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    const res = parseSpool(fd, 0, fstatSync(fd).size)!;
    const views = res.messages.map((m) => clientView(buf.subarray(m.offset, m.end)).toString('latin1'));
    return { ...res, views, buf };
  } finally { closeSync(fd); }
}

describe('From line dates', () => {
  const ok = [
    'From bob@example.com Sat Dec 26 09:37:48 1998',
    'From tam6@[161.29.2.46] Tue Jan 05 16:41:58 1999',
    'From a Tue Jan  5 16:41:58 1999',
    'From a Tue Jan 5 16:41 1999',
    'From a Tue Jan 5 16:41:58 PST 1999',
    'From a Tue Jan 5 16:41:58 1999 +0200',
    'From "quoted sender"@x Tue Jan 5 16:41:58 1999 remote from uucp',
    'From MAILER-DAEMON Mon Jan  1 00:00:00 2024',
  ];
  for (const l of ok) it(`accepts ${l}`, () => expect(parseFromLine(Buffer.from(l), 0, l.length)).not.toBeNull());
  const bad = ['From here to eternity', 'From: bob@example.com', 'From a Tue Jan 45 16:41:58 1999', 'From a Tue Foo 5 16:41:58 1999'];
  for (const l of bad) it(`rejects ${l}`, () => expect(parseFromLine(Buffer.from(l), 0, l.length)).toBeNull());
  it('applies a numeric zone', () => {
    const l = 'From a Tue Jan 5 16:41:58 1999 +0200';
    expect(parseFromLine(Buffer.from(l), 0, l.length)!.toISOString()).toBe('1999-01-05T14:41:58.000Z');
  });
});

describe('parseSpool', () => {
  it('splits messages, unquotes, strips internal headers, counts CRLF sizes', () => {
    const text = 'From a Tue Jan 05 16:41:58 1999\nSubject: one\nStatus: RO\nX-Status: F\nX-UID: 7\nX-Keywords: Work $Label1\n\nFrom the start\n>From quoted\n\n' +
      'From b Tue Jan 05 16:41:59 1999\nSubject: two\n\nbody two\n';
    const r = parseText(text);
    expect(r.messages).toHaveLength(2);
    expect(r.views[0]).toBe('Subject: one\r\n\r\nFrom the start\r\nFrom quoted\r\n');
    expect(r.messages[0]!.size).toBe(r.views[0]!.length);
    expect(r.messages[0]!.flags).toBe(FLAG_SEEN | FLAG_OLD | FLAG_FLAGGED);
    expect(r.messages[0]!.keywords).toEqual(['Work', '$Label1']);
    expect(r.messages[0]!.fileUid).toBe(7);
    expect(r.views[1]).toBe('Subject: two\r\n\r\nbody two\r\n');
    expect(r.messages[1]!.size).toBe(r.views[1]!.length);
  });

  it('does not split at an unquoted From without a blank line before it', () => {
    const r = parseText('From a Tue Jan 05 16:41:58 1999\nSubject: x\n\nline\nFrom b Tue Jan 05 16:41:58 1999\n');
    expect(r.messages).toHaveLength(1);
  });

  it('handles CRLF files and a final message without newline', () => {
    const text = 'From a Tue Jan 05 16:41:58 1999\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom b Tue Jan 05 16:41:58 1999\r\nSubject: two\r\n\r\nno newline';
    const r = parseText(text);
    expect(r.messages).toHaveLength(2);
    expect(r.views).toEqual(['Subject: one\r\n\r\nbody\r\n', 'Subject: two\r\n\r\nno newline']);
    expect(r.messages.map((m) => m.size)).toEqual(r.views.map((v) => v.length));
  });

  it('keeps garbage before the first From as a preamble', () => {
    const r = parseText('garbage line\nmore\nFrom a Tue Jan 05 16:41:58 1999\nSubject: x\n\nhi\n');
    expect(r.preambleEnd).toBe('garbage line\nmore\n'.length);
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]!.offset).toBe(r.preambleEnd);
  });

  it('treats a file without any From line as preamble only', () => {
    const r = parseText('just some text\nno from line\n');
    expect(r.messages).toHaveLength(0);
    expect(r.preambleEnd).toBe(28);
  });

  it('survives binary, NUL bytes, truncation and a 10 MB header line', () => {
    const big = 'X-Big: ' + 'a'.repeat(10 * 1024 * 1024) + '\n';
    const bin = Buffer.concat([
      Buffer.from('From a Tue Jan 05 16:41:58 1999\nSubject: bin\n\n'),
      Buffer.from([0, 1, 2, 255, 0, 10, 13, 0]),
      Buffer.from('\n\nFrom b Tue Jan 05 16:41:58 1999\n' + big + '\nbody\n\nFrom c Tue Jan 05 16:41:58 1999\nSubject: trunc'),
    ]);
    const r = parseText(bin);
    expect(r.messages).toHaveLength(3);
    expect(r.messages[1]!.size).toBe(r.views[1]!.length);
    expect(r.views[2]).toBe('Subject: trunc');
    for (let i = 0; i < 3; i++) expect(r.messages[i]!.size).toBe(Buffer.byteLength(r.views[i]!, 'latin1'));
  });

  it('recognises the UW hidden pseudo-message and X-IMAPbase', () => {
    const text = 'From MAILER-DAEMON Tue Jan 05 16:41:58 1999\nSubject: DON\'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1234 0000000010 Work\n\npseudo\n\n' +
      'From b Tue Jan 05 16:41:58 1999\nX-IMAPbase: 99 5\nSubject: two\n\nx\n';
    const r = parseText(text);
    expect(r.messages[0]!.pseudo).toBe(true);
    // X-IMAP / X-IMAPbase carry the LAST UID assigned (UW, Dovecot): 10 means UIDNEXT 11.
    expect(r.messages[0]!.base).toEqual({ uidValidity: 1234, uidNext: 11, keywords: ['Work'] });
    expect(r.messages[1]!.base!.uidNext).toBe(6);
    expect(r.messages[1]!.pseudo).toBe(false);
    expect(r.messages[1]!.base!.uidValidity).toBe(99);
  });

  it('hides a subject-only pseudo-message only when UW wrote it', () => {
    const r = parseText("From MAILER-DAEMON Tue Jan 05 16:41:58 1999\nFrom: Mail System Internal Data <MAILER-DAEMON@x>\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nx\n\n" +
      "From joker@x Tue Jan 05 16:41:58 1999\nFrom: joker@x\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nx\n");
    expect(r.messages.map((m) => m.pseudo)).toEqual([true, false]);
  });

  it('restamp keeps everything but the status headers byte for byte', () => {
    const raw = Buffer.from('From a Tue Jan 05 16:41:58 1999\nSubject: x\nStatus: O\nX-UID: 3\nTo: y\n\nbody\n>From q\n\n');
    const out = restamp(raw, { flags: FLAG_SEEN, keywords: ['K'], uid: 3 }, null);
    expect(out.toString()).toBe(`From a Tue Jan 05 16:41:58 1999\nSubject: x\nTo: y\nStatus: R \nX-Status:     \nX-Keywords: K${' '.repeat(31)}\nX-UID: 3\n\nbody\n>From q\n\n`);
    expect(clientView(out).toString()).toBe(clientView(raw).toString());
    expect(layoutOf(out).sepLen).toBe(1);
  });

  it('storedForm quotes From lines, converts to LF and adds a separator', () => {
    const out = storedForm(Buffer.from('Subject: a\r\nStatus: RO\r\n\r\nFrom x\r\n>From y\r\nend'), new Date(), { flags: 0, keywords: [], uid: 4 }, null);
    const s = out.toString();
    expect(s).toMatch(/^From MAILER-DAEMON /);
    expect(s.slice(s.indexOf('\n') + 1)).toBe(`Subject: a\nStatus:   \nX-Status:     \nX-Keywords: ${' '.repeat(32)}\nX-UID: 4\n\n>From x\n>>From y\nend\n\n`);
    expect(clientView(out).toString()).toBe('Subject: a\r\n\r\nFrom x\r\n>From y\r\nend\r\n');
  });
});
