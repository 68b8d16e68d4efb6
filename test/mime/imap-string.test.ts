// IMAP string syntax helpers (wire strings: one char per byte).
import { describe, expect, it } from 'vitest';
import { astring, literal, nstring, quoted, toWire, wireToBuffer } from '../../src/mime/index.js';
import { humanStringWire, nstringNoLfWire } from '../../src/mime/imap-string.js';

describe('imap-string', () => {
  it('nstring: NIL, quoted for safe 7-bit, literal for CR/LF/8-bit', () => {
    expect(nstring(null)).toBe('NIL');
    expect(nstring('hello world')).toBe('"hello world"');
    expect(nstring('')).toBe('""');
    expect(nstring('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(nstring('two\r\nlines')).toBe('{10}\r\ntwo\r\nlines');
  });

  it('more than four quotes or backslashes switch to a literal, as Dovecot does', () => {
    expect(nstring('""""')).toBe('"\\"\\"\\"\\""');
    expect(nstring('"""""')).toBe('{5}\r\n"""""');
  });

  it('8-bit text becomes a literal whose count is in bytes', () => {
    const w = nstring('café');
    expect(w).toBe('{5}\r\ncaf\xc3\xa9');
    expect(wireToBuffer(w).toString('utf8')).toBe('{5}\r\ncafé');
    expect(nstring(Buffer.from([0x61, 0xff]))).toBe('{2}\r\na\xff');
    expect(toWire('é')).toBe('\xc3\xa9');
  });

  it('astring: bare atom when possible', () => {
    expect(astring('INBOX')).toBe('INBOX');
    expect(astring('Sent Items')).toBe('"Sent Items"');
    expect(astring('a]b')).toBe('a]b');
    expect(astring('')).toBe('""');
    expect(astring('50%')).toBe('"50%"');
    expect(astring('x{')).toBe('"x{"');
  });

  it('quoted and literal helpers', () => {
    expect(quoted('x')).toBe('"x"');
    expect(literal('abc')).toBe('{3}\r\nabc');
  });

  it('human strings: normalised whitespace goes out as a literal; clean text stays quoted', () => {
    expect(humanStringWire('Plain subject')).toBe('"Plain subject"');
    expect(humanStringWire('  folded\r\n\tsubject  ')).toBe('{14}\r\nfolded subject');
    expect(humanStringWire('say "hi"')).toBe('{8}\r\nsay "hi"');
    expect(humanStringWire('   ')).toBe('""');
    expect(humanStringWire('bare\rCR')).toBe('{7}\r\nbare CR');
  });

  it('nstring_nolf joins folded lines', () => {
    expect(nstringNoLfWire('a\r\n b')).toBe('"a b"');
    expect(nstringNoLfWire('a\r\nb')).toBe('"a b"');
    expect(nstringNoLfWire(null)).toBe('NIL');
  });
});
