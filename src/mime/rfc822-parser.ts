// A port of the RFC 822/5322 tokenizer Dovecot uses (lib-mail/rfc822-parser.c), so addresses and
// MIME parameters degrade exactly like Dovecot's on broken input. Works on wire strings (one char
// per byte). Return values follow Dovecot: 1 = more data follows, 0 = end of input, -1 = error.

const ATEXT = new Uint8Array(256);
const TSPECIAL = new Uint8Array(256);
{
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c);
    const alnum = /[A-Za-z0-9]/.test(ch);
    ATEXT[c] = alnum || "!#$%&'*+-/=?^_`{|}~".includes(ch) || c >= 0x80 ? 1 : 0;
  }
  for (const ch of '()<>@,;:\\"/[]?=') TSPECIAL[ch.charCodeAt(0)] = 1;
}

export function isAtext(c: number): boolean {
  return ATEXT[c] === 1;
}

function isTokenChar(c: number): boolean {
  // Dovecot's IS_ATEXT_NON_TSPECIAL plus '.': '/', '=' and '?' are atext but tspecials.
  return (ATEXT[c] === 1 && TSPECIAL[c] === 0) || c === 0x2e;
}

/** U+FFFD in UTF-8, which Dovecot substitutes for NUL bytes inside parsed strings. */
export const NUL_REPLACEMENT = '\xef\xbf\xbd';

export class Rfc822Parser {
  pos: number;
  /** Text of the last comment seen, when the caller wants comments (address display names). */
  lastComment: string | null;

  constructor(
    readonly data: string,
    wantComments = false,
    readonly nulReplacement: string | null = null,
  ) {
    this.pos = 0;
    this.lastComment = wantComments ? '' : null;
  }

  get end(): number {
    return this.data.length;
  }

  atEnd(): boolean {
    return this.pos >= this.data.length;
  }

  cur(): number {
    return this.data.charCodeAt(this.pos);
  }

  skipComment(): number {
    const d = this.data;
    let level = 1;
    // The comment text is collected as we go, so an unterminated comment still leaves what was
    // read before its last escape (Dovecot shows that as the display name).
    const keep = this.lastComment !== null;
    if (keep) this.lastComment = '';
    let start = ++this.pos;
    for (; this.pos < d.length; this.pos++) {
      const c = d.charCodeAt(this.pos);
      if (c === 0x28) level++;
      else if (c === 0x29) {
        if (--level === 0) {
          if (keep) this.lastComment += d.slice(start, this.pos);
          this.pos++;
          return this.pos < d.length ? 1 : 0;
        }
      } else if (c === 0x0a) {
        if (!keep) continue;
        let len = this.pos - start;
        if (len > 0 && d.charCodeAt(start + len - 1) === 0x0d) len--;
        this.lastComment += d.slice(start, start + len);
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= d.length) return -1;
        const n = d.charCodeAt(this.pos);
        if (n === 0x0d || n === 0x0a || n === 0) {
          // obs-qp allows these after '\'; not an error, not an escape either.
          this.pos--;
          continue;
        }
        if (keep) this.lastComment += d.slice(start, this.pos - 1);
        start = this.pos;
      }
    }
    return -1;
  }

  skipLwsp(): number {
    const d = this.data;
    while (this.pos < d.length) {
      const c = d.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.pos++;
        continue;
      }
      if (c !== 0x28) break;
      if (this.skipComment() < 0) return -1;
    }
    return this.pos < d.length ? 1 : 0;
  }

  /** Appends to out.v; returns status. */
  parseAtom(out: { v: string }): number {
    const d = this.data;
    if (this.pos >= d.length || !isAtext(d.charCodeAt(this.pos))) return -1;
    const start = this.pos++;
    while (this.pos < d.length && isAtext(d.charCodeAt(this.pos))) this.pos++;
    out.v += d.slice(start, this.pos);
    return this.pos < d.length ? this.skipLwsp() : 0;
  }

  /** dot-atom as RFC 5322 wants it (domains): every dot must be followed by an atom. */
  parseDotAtom(out: { v: string }): number {
    const d = this.data;
    if (this.pos >= d.length || !isAtext(d.charCodeAt(this.pos))) return -1;
    for (;;) {
      const start = this.pos;
      while (this.pos < d.length && isAtext(d.charCodeAt(this.pos))) this.pos++;
      out.v += d.slice(start, this.pos);
      const ret = this.skipLwsp();
      if (ret <= 0) return ret;
      if (d.charCodeAt(this.pos) !== 0x2e) return 1;
      this.pos++;
      out.v += '.';
      if (this.skipLwsp() <= 0 || !isAtext(d.charCodeAt(this.pos))) return -1;
    }
  }

  /**
   * A local part the lenient way Dovecot 2.3 reads it (Japanese mail has ".user", "us..er" and
   * "user."): runs of atext and dots; whitespace may come before a dot but not after one (an
   * error), and a final dot only right before the '@'.
   */
  parseLocalDots(out: { v: string }): number {
    const d = this.data;
    const isPart = (c: number): boolean => isAtext(c) || c === 0x2e;
    if (this.pos >= d.length || !isPart(d.charCodeAt(this.pos))) return -1;
    for (;;) {
      const start = this.pos;
      while (this.pos < d.length && isPart(d.charCodeAt(this.pos))) this.pos++;
      out.v += d.slice(start, this.pos);
      // Whitespace right after a dot is an error; it is left unread.
      const next = d.charCodeAt(this.pos);
      if (d.charCodeAt(this.pos - 1) === 0x2e && (next === 0x20 || next === 0x09)) return -1;
      const endsWithDot = d.charCodeAt(this.pos - 1) === 0x2e;
      const ret = this.skipLwsp();
      if (ret <= 0) return ret;
      const c = d.charCodeAt(this.pos);
      // "user." is accepted only right before its '@' ("a.,b" is broken, "a.@b" is not).
      if (endsWithDot && c !== 0x40) return -1;
      if (c !== 0x2e) return 1;
    }
  }

  parseMimeToken(out: { v: string }): number {
    const d = this.data;
    const start = this.pos;
    while (this.pos < d.length && isTokenChar(d.charCodeAt(this.pos))) this.pos++;
    out.v += d.slice(start, this.pos);
    return this.pos < d.length ? this.skipLwsp() : 0;
  }

  parseAtomOrDot(out: { v: string }): number {
    const d = this.data;
    const start = this.pos;
    while (this.pos < d.length) {
      const c = d.charCodeAt(this.pos);
      if (!isAtext(c) && c !== 0x2e) break;
      this.pos++;
    }
    out.v += d.slice(start, this.pos);
    return this.pos < d.length ? this.skipLwsp() : 0;
  }

  parseQuotedString(out: { v: string }): number {
    const d = this.data;
    let start = ++this.pos;
    for (; this.pos < d.length; this.pos++) {
      const c = d.charCodeAt(this.pos);
      if (c === 0 && this.nulReplacement !== null) {
        out.v += d.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (c === 0x22) {
        out.v += d.slice(start, this.pos);
        this.pos++;
        return this.skipLwsp();
      } else if (c === 0x0a) {
        let len = this.pos - start;
        if (len > 0 && d.charCodeAt(start + len - 1) === 0x0d) len--;
        out.v += d.slice(start, start + len);
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= d.length) return -1;
        out.v += d.slice(start, this.pos - 1);
        start = this.pos;
      }
    }
    return -1;
  }

  parsePhrase(out: { v: string }): number {
    const d = this.data;
    if (this.pos >= d.length) return 0;
    if (d.charCodeAt(this.pos) === 0x2e) return -1;
    for (;;) {
      const ret = d.charCodeAt(this.pos) === 0x22 ? this.parseQuotedString(out) : this.parseAtomOrDot(out);
      if (ret <= 0) return ret;
      const c = d.charCodeAt(this.pos);
      if (!isAtext(c) && c !== 0x22 && c !== 0x2e) break;
      out.v += ' ';
    }
    return this.skipLwsp();
  }

  private parseDomainLiteral(out: { v: string }): number {
    const d = this.data;
    let start = this.pos++;
    for (; this.pos < d.length; this.pos++) {
      const c = d.charCodeAt(this.pos);
      if (c === 0 && this.nulReplacement !== null) {
        out.v += d.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (c === 0x5b) {
        return -1;
      } else if (c === 0x5d) {
        out.v += d.slice(start, this.pos + 1);
        this.pos++;
        return this.skipLwsp();
      } else if (c === 0x0a) {
        let len = this.pos - start;
        if (len > 0 && d.charCodeAt(start + len - 1) === 0x0d) len--;
        out.v += d.slice(start, start + len);
        start = this.pos + 1;
      } else if (c === 0x5c) {
        // The backslash is kept in the output, as Dovecot does.
        this.pos++;
        if (this.pos >= d.length) return -1;
      }
    }
    return -1;
  }

  /** At '@': parses the domain after it. */
  parseDomain(out: { v: string }): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    if (this.cur() === 0x5b) return this.parseDomainLiteral(out);
    return this.parseDotAtom(out);
  }

  /**
   * `type/subtype` into out.v, like Dovecot: -1 when broken, but out.v keeps what was read when
   * the value simply ends after the type ("text"), and is emptied when other junk follows.
   */
  parseContentType(out: { v: string }): number {
    if (this.skipLwsp() <= 0) return -1;
    const t = { v: '' };
    const tr = this.parseMimeToken(t);
    if (tr <= 0 || t.v.length === 0) {
      out.v += t.v;
      return -1;
    }
    if (this.cur() !== 0x2f) return -1;
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    const st = { v: '' };
    const ret = this.parseMimeToken(st);
    if (ret < 0 || st.v.length === 0) return -1;
    // Anything but parameters after the subtype makes the whole value unusable (Dovecot 2.3).
    if (ret > 0 && this.cur() !== 0x3b) return -1;
    out.v += `${t.v}/${st.v}`;
    return ret;
  }

  /** One `; key=value`; 0 at end of input, -1 on a broken parameter. */
  parseContentParam(): { ret: number; key: string; value: string } {
    const d = this.data;
    if (this.pos >= d.length) return { ret: 0, key: '', value: '' };
    if (d.charCodeAt(this.pos) !== 0x3b) return { ret: -1, key: '', value: '' };
    this.pos++;
    if (this.skipLwsp() <= 0) return { ret: -1, key: '', value: '' };
    const key = { v: '' };
    if (this.parseMimeToken(key) <= 0) return { ret: -1, key: '', value: '' };
    if (d.charCodeAt(this.pos) !== 0x3d) return { ret: -1, key: '', value: '' };
    this.pos++;
    const value = { v: '' };
    let ret = this.skipLwsp();
    if (ret <= 0) {
      // broken / no value
    } else if (d.charCodeAt(this.pos) === 0x22) {
      ret = this.parseQuotedString(value);
    } else if (d.charCodeAt(this.pos) === 0x3d) {
      // Broken senders write name==?utf-8?b?...?= unquoted; take it up to the next separator.
      const start = this.pos;
      while (this.pos < d.length && !'; \t\r\n'.includes(d[this.pos])) this.pos++;
      value.v = d.slice(start, this.pos);
    } else {
      ret = this.parseMimeToken(value);
    }
    return { ret: ret < 0 ? -1 : 1, key: key.v, value: value.v };
  }
}
