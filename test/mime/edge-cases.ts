// Hand-written edge cases (header syntax, parameters, addresses, boundaries) for the Dovecot
// differential test, plus a seeded generator of random MIME trees built from the same pieces.

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');

const CONTENT_TYPES = [
  'text/plain; name*0="a"; name*1="b.txt"',
  'text/plain; name*1="second"; name*0="first"',
  'text/plain; name*0*=utf-8\'\'%C3%A9; name*1="x"',
  'text/plain; name*0="a"; name*2="c"',
  "text/plain; filename*=iso-8859-1'en'%E9t%E9.txt",
  'text/plain; charset=utf-8; charset=latin1',
  'text/plain; name',
  'text/plain; name=; other=x',
  'text/plain; name="unterminated',
  'text/plain; name=a b c; x=y',
  'text/plain; name==?utf-8?b?w6k=?=; y=1',
  'text',
  'text/',
  '/plain',
  ' TEXT / PLAIN ',
  '(comment) text/html (another); (c) charset = "x"',
  'application/octet-stream; name="a\\"b\\\\c"',
  'image/png;name=x.png;',
  'text/plain;; ;charset=us-ascii',
  'TEXT/Plain; CHARSET=UTF-8',
  'text/plain; charset="utf-8"; format=flowed; delsp=yes',
  'application/x-thing; a=1; b=2; c=3; d=4; e=5',
  'text/plain; charset=\xe9',
  'message/rfc822',
  'multipart/mixed',
  'multipart/mixed; boundary=""',
];

const OTHER_FIELDS = [
  'Content-Transfer-Encoding: BASE64 ',
  'Content-Transfer-Encoding: base64 (comment)',
  'Content-Transfer-Encoding: x-uue',
  'Content-Transfer-Encoding:',
  'Content-Disposition: attachment',
  'Content-Disposition: attachment;',
  'Content-Disposition: inline; filename=a.txt; size=3',
  'Content-Disposition: attachment filename=a',
  'Content-Disposition: ',
  'Content-Disposition: ATTACHMENT; FILENAME*=utf-8\'\'%C3%A9.txt',
  'Content-Language: en, fr',
  'Content-Language: en-US',
  'Content-Language: (comment) de',
  'Content-Language:',
  'Content-Language: ,en',
  'Content-ID: <id@x>',
  'Content-ID:\n\t<folded@x>',
  'Content-Description: caf\xc3\xa9 \t double  space',
  'Content-Description: "quoted" desc',
  'Content-Location: http://example.com/\n a/b',
  'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
];

const ADDRESSES = [
  'a@b.c, , c@d.e',
  '<a@b.c>',
  '<>',
  '"" <a@b.c>',
  'a@b.c (c1) (c2)',
  'group:;',
  'group: a@b.c',
  'g1: a@b.c; g2: c@d.e;',
  'Empty Group:;, x@y.z',
  '<@r1.x:a@b.c>',
  '<@r1.x,@r2.y:a@b.c>',
  '<@r1.x a@b.c>',
  'a@[1.2.3.4]',
  'a.@b.c',
  'a..b@c.d',
  '"quoted\\"x"@x.y',
  '"with space"@x.y',
  'Undisclosed recipients:;',
  'a@b.c d@e.f',
  'Name <a@b.c',
  'Name a@b.c>',
  '(comment only)',
  'a@',
  '@b.c',
  '=?utf-8?q?x?= <a@b.c>',
  'Caf\xc3\xa9 <cafe@x.y>',
  'John "Q." Public <jqp@x.y>',
  'john.q.public@example.com (John Q. Public)',
  '"Last, First" <lf@x.y>',
  'Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>',
  'A Group(Some people)\n     :Chris Jones <c@(Chris\'s host.)public.example>,\n         joe@example.org,\n  John <jdoe@one.test> (my dear friend); (the end of the group)',
  'Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example',
  'a@b.c,',
  ',',
  ';',
  ':',
  'x:y:z@w',
  '"unterminated <a@b.c>',
  'a\\@b@c.d',
  'g: , b@c.d;',
  'g: a@, b@c.d;',
  'g: @x, d@e.f;',
  'g: a@b..c, b@c.d;',
  'a@b..c, d@e.f',
  'a@b.c., d@e.f',
  'a. b@c.d, e@f.g',
  'a.\tb@c.d',
  'a .b@c.d',
];

const SUBJECTS = ['', ' ', 'plain', '  leading', 'trailing  ', 'tab\there', 'two  spaces', 'folded\n line', 'folded\n\tline', 'say "hi"', 'back\\slash', 'caf\xc3\xa9', '\xe9t\xe9', '=?utf-8?q?caf=C3=A9?='];

function header(fields: string[]): string {
  return fields.join('\n') + '\n';
}

/** The fixed edge cases. */
export function edgeCases(): Buffer[] {
  const out: Buffer[] = [];
  for (const ct of CONTENT_TYPES) out.push(crlf(header(['Subject: ct', `Content-Type: ${ct}`]) + '\nbody line\n'));
  for (const f of OTHER_FIELDS) out.push(crlf(header(['Subject: other', 'Content-Type: text/plain', f]) + '\nbody\n'));
  for (const a of ADDRESSES) out.push(crlf(header([`From: ${a}`, `To: ${a}`, 'Subject: addr']) + '\nx\n'));
  for (const s of SUBJECTS) out.push(crlf(header([`Subject: ${s}`, 'Date:\n Mon, 1 Jan 2024\t00:00:00 +0000', 'Message-ID:  <a@b>  ', 'In-Reply-To: <x@y>\n <z@w>']) + '\nx\n'));
  out.push(
    crlf('Subject : space before colon\nNoColonLine\n continuation\nX: y\n\nbody\n'),
    crlf(' leading continuation\nSubject: x\n\nbody\n'),
    crlf('Subject: a\0b\nFrom: "a\0b" <x@y.z>\nMessage-ID: <a\0b@c>\nContent-Type: text/plain; name="a\0b"\nContent-Description: d\0e\n\nbody\0\n'),
    crlf('Subject: bare\rCR\nDate: d\re\n\nx\n'),
    crlf('Subject: \nDate:  \nMessage-ID: \t\nIn-Reply-To:\nContent-Description:  \nMIME-Version: 1.0\n\nx\n'),
    crlf('From: a@b.c, , (c@d.e\nTo: =(?utf-8?q?x?= <a@b.c>\n \nCc: joe@exa(ple.org,\n  John <jdoe@one.test>\n\nx\n'),
    crlf('Subject: x\n   \nX-A: y\n\nbody\n'),
    crlf('Subject: \xff\xfe 8-bit\nFrom: \xe9 <a@b.c>\n\nx\n'),
    crlf(': empty name\nSubject: x\n\nbody\n'),
    crlf('Subject: a\nSubject: b\nFrom: a@b.c\nFrom: d@e.f\nDate: one\nDate: two\n\nbody\n'),
    crlf('Subject: no body'),
    crlf('Subject: no blank line\n'),
    crlf('\nbody only\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b \t\nContent-Type: text/plain\n\nwhitespace after boundary\n--b--garbage\nepilogue\n'),
    crlf('Content-Type: multipart/mixed; boundary=ab\n\n--abc\n\nprefix match\n--ab\n\nreal\n--ab--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=b2\n\n--b2\n\ninner1\n--b\n\nouter2 ends inner early\n--b--\n'),
    crlf('Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in digest\n\nbody1\n--d\nContent-Type: text/plain\n\nnot a message\n--d\n\n--d--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nsecond\n--b--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\nno final boundary, no final newline'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n--b\n\nafter empty message\n--b--\n'),
    crlf('Content-Type: message/rfc822\n\nSubject: top-level encapsulated\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nq1\n--q--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\n--b--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\nContent-Type: text/plain\n\n--b\n\ntwo content types\n--b--\n'),
    crlf('Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nsecond ct ignored\n--b--\n'),
    crlf('Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b\n\n\n\nblank lines\n\n\n--b--\n\n\n'),
    crlf('Content-Type: multipart/mixed; boundary="very long boundary with spaces and (parens) and more and more and more text here to exceed eighty"\n\n--very long boundary with spaces and (parens) and more and more and more text here to exceed eighty\n\np1\n--very long boundary with spaces and (parens) and more and more and more text here to exceed eighty--\n'),
  );
  return out;
}

/**
 * Seeded mutations of the edge cases and random trees: bytes replaced by MIME-significant ones,
 * tokens inserted, spans cut. Line ends are kept CRLF, as the store delivers them.
 */
export function mutatedCases(count: number, seed: number): Buffer[] {
  let s = seed;
  const rnd = (n: number): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
  const base = [...edgeCases(), ...randomCases(300, 7)];
  const bytes = [0x20, 0x2d, 0x0a, 0x3a, 0x3b, 0x22, 0x28, 0x40, 0x3c, 0x2c, 0x61];
  const tokens = ['--', '\r\n', '"', '(', '=?', ';', ':', 'boundary=', '<', '@', ' '];
  return Array.from({ length: count }, () => {
    let buf = Buffer.from(base[rnd(base.length)]);
    for (let m = 0, muts = 1 + rnd(4); m < muts; m++) {
      const k = rnd(3);
      if (k === 0 && buf.length) buf[rnd(buf.length)] = bytes[rnd(bytes.length)];
      else if (k === 1) {
        const p = rnd(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, p), Buffer.from(tokens[rnd(tokens.length)]), buf.subarray(p)]);
      } else {
        const p = rnd(buf.length + 1);
        const q = rnd(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, Math.min(p, q)), buf.subarray(Math.max(p, q))]);
      }
    }
    return Buffer.from(buf.toString('latin1').replace(/\r?\n/g, '\r\n').replace(/\r(?!\n)/g, ''), 'latin1');
  });
}

/** Random MIME trees from a seeded generator; depth-limited. */
export function randomCases(count: number, seed: number): Buffer[] {
  let s = seed;
  const rnd = (n: number): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
  const pick = <T>(a: T[]): T => a[rnd(a.length)];
  let bn = 0;
  const entity = (depth: number): string => {
    const fields: string[] = [];
    if (rnd(3) === 0) fields.push(`Subject: ${pick(SUBJECTS)}`);
    if (rnd(4) === 0) fields.push(`From: ${pick(ADDRESSES)}`);
    for (const name of ['To', 'Cc', 'Bcc', 'Reply-To', 'Sender']) if (rnd(8) === 0) fields.push(`${name}: ${pick(ADDRESSES)}${rnd(3) === 0 ? `, ${pick(ADDRESSES)}` : ''}`);
    if (rnd(6) === 0) fields.push(pick(['Date: Mon, 1 Jan 2024 00:00:00 +0000', 'Date:', 'Date:  spaced  \t date ', 'In-Reply-To: <a@b>\n\t<c@d>', 'Message-ID:\n <folded@x>', 'MIME-Version: 1.0']));
    if (rnd(5) === 0) fields.push(pick(OTHER_FIELDS));
    if (rnd(10) === 0) fields.push(pick(['X-Junk: \xff\xfe', 'NoColon', ' ', 'X-Empty:', 'content-type: TEXT/html']));
    const kind = depth > 3 ? 0 : rnd(4);
    if (kind === 1) {
      const b = `bnd${bn++}`;
      fields.push(`Content-Type: multipart/${pick(['mixed', 'alternative', 'digest', 'related'])}; boundary="${b}"`);
      const n = rnd(4);
      let body = rnd(2) ? 'preamble\n' : '';
      for (let i = 0; i < n; i++) body += `--${b}${rnd(5) === 0 ? '  ' : ''}\n${entity(depth + 1)}\n`;
      if (rnd(4) !== 0) body += `--${b}--\n${rnd(2) ? 'epilogue\n' : ''}`;
      return header(fields) + '\n' + body;
    }
    if (kind === 2) {
      fields.push('Content-Type: message/rfc822');
      return header(fields) + '\n' + entity(depth + 1);
    }
    if (rnd(2)) fields.push(`Content-Type: ${pick(CONTENT_TYPES.filter((c) => !c.startsWith('multipart') && !c.startsWith('message')))}`);
    const lines = rnd(4);
    let body = '';
    for (let i = 0; i < lines; i++) body += pick(['text', '', 'more text', '--not-a-boundary', ' ']) + '\n';
    return header(fields) + '\n' + body.slice(0, rnd(3) === 0 ? -1 : undefined);
  };
  return Array.from({ length: count }, () => crlf(entity(0)));
}
