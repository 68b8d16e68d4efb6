// ENVELOPE address parsing beyond the corpus: groups, routes, quoting, comments, broken lists.
import { describe, expect, it } from 'vitest';
import { envelope, parseMessage } from '../../src/mime/index.js';

function env(header: string): string {
  const raw = Buffer.from(`${header.replace(/\n/g, '\r\n')}\r\n\r\nbody\r\n`, 'latin1');
  return envelope(parseMessage(raw), raw);
}

/** The From address list of the envelope (third item). */
function fromList(value: string): string {
  const e = env(`From: ${value}`);
  const m = /^\(NIL NIL (\([\s\S]*?\)\)|NIL) /.exec(e);
  return m ? m[1] : e;
}

describe('ENVELOPE', () => {
  it('fills sender and reply-to from From, keeps date and message-id raw', () => {
    expect(env('Date: Mon, 1 Jan 2024 00:00:00 +0000\nFrom: A <a@x.org>\nSubject: Hi\nMessage-ID: <1@x>')).toBe(
      '("Mon, 1 Jan 2024 00:00:00 +0000" "Hi" (("A" NIL "a" "x.org")) (("A" NIL "a" "x.org")) (("A" NIL "a" "x.org")) NIL NIL NIL NIL "<1@x>")',
    );
  });

  it('groups: start marker (NIL NIL name NIL), members, end marker (NIL NIL NIL NIL)', () => {
    expect(env('To: Team: a@x.org, B <b@y.org>;, c@z.org')).toContain(
      '((NIL NIL "Team" NIL)(NIL NIL "a" "x.org")("B" NIL "b" "y.org")(NIL NIL NIL NIL)(NIL NIL "c" "z.org"))',
    );
    expect(env('To: undisclosed-recipients:;')).toContain('((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))');
  });

  it('route addresses, quoted local parts and display names with escapes', () => {
    expect(fromList('<@r1.org,@r2.org:user@host.org>')).toBe('((NIL "@r1.org,@r2.org" "user" "host.org"))');
    expect(fromList('"John \\"JJ\\" Smith" <"john smith"@x.org>')).toBe('(({15}\r\nJohn "JJ" Smith NIL "john smith" "x.org"))');
  });

  it('a comment after a bare address becomes the display name', () => {
    expect(fromList('user@x.org (Real Name)')).toBe('(("Real Name" NIL "user" "x.org"))');
  });

  it('encoded words stay as sent', () => {
    expect(fromList('=?UTF-8?Q?Ren=C3=A9?= <r@x.org>')).toBe('(("=?UTF-8?Q?Ren=C3=A9?=" NIL "r" "x.org"))');
  });

  it('broken lists degrade like Dovecot (MISSING_MAILBOX / MISSING_DOMAIN)', () => {
    expect(fromList(', a@x.org')).toBe('((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL "a" "x.org"))');
    expect(fromList('justaname')).toBe('((NIL NIL "justaname" "MISSING_DOMAIN"))');
  });

  it('repeated address fields are merged; an empty field is NIL', () => {
    expect(env('To: a@x.org\nTo: b@y.org')).toContain('((NIL NIL "a" "x.org")(NIL NIL "b" "y.org"))');
    expect(env('From:\nSubject:')).toBe('(NIL "" NIL NIL NIL NIL NIL NIL NIL NIL)');
  });

  it('8-bit header bytes are sent as literals', () => {
    const e = env('Subject: Gr\xc3\xbc\xc3\x9fe');
    expect(e).toContain('{7}\r\nGr\xc3\xbc\xc3\x9fe');
  });
});
