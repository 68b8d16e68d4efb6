// Tokenizer over one framed command (text with NUL placeholders for literals). Methods consume the
// RFC 3501 grammar pieces commands need; any mismatch throws ParseError, which becomes a tagged BAD.

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

const ATOM_SPECIAL = new Set([...'(){ %*"\\]'].map((c) => c.charCodeAt(0)));
const isCtl = (c: number) => c < 0x20 || c === 0x7f;
const isAtomChar = (c: number) => !isCtl(c) && c < 0x80 && !ATOM_SPECIAL.has(c);
// ASTRING-CHAR adds resp-specials (']').
const isAstringChar = (c: number) => isAtomChar(c) || c === 0x5d;
// A UTF-8 session also takes 8-bit bytes in an unquoted astring (a mailbox name as Python's imaplib
// sends it: unquoted); a name is then checked to be UTF-8 (mailbox-name.ts).
const isUtf8AstringChar = (c: number) => isAstringChar(c) || (c >= 0x80 && c <= 0xff);

export class Args {
  pos = 0;
  private literalIndex = 0;
  /** Mailbox names in this command are UTF-8, not modified UTF-7, and astrings may hold 8-bit bytes
   *  (the session enabled IMAP4rev2 or UTF8=ACCEPT: src/imap/rev2.ts). Set by the command loop. */
  utf8Names = false;

  constructor(
    readonly text: string,
    private readonly literals: readonly Buffer[],
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Consume `c` if it is next. */
  eat(c: string): boolean {
    if (this.text.startsWith(c, this.pos)) {
      this.pos += c.length;
      return true;
    }
    return false;
  }

  expect(c: string, what = `"${c}"`): void {
    if (!this.eat(c)) throw new ParseError(`Expected ${what}`);
  }

  sp(): void {
    if (!this.eat(' ')) throw new ParseError(this.atEnd ? 'Missing arguments' : 'Expected a space');
  }

  end(): void {
    if (!this.atEnd) throw new ParseError('Unexpected extra arguments');
  }

  private run(pred: (c: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.text.length && pred(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  atom(): string {
    const a = this.run(isAtomChar);
    if (!a) throw new ParseError(this.atEnd ? 'Missing arguments' : `Invalid characters in atom`);
    return a;
  }

  /** An atom that may contain ']' and '[' etc. up to a space or ')': for FETCH attributes and flags. */
  word(extra: (c: number) => boolean = () => false): string {
    const a = this.run((c) => isAtomChar(c) || extra(c));
    if (!a) throw new ParseError('Missing arguments');
    return a;
  }

  number(): number {
    const n = this.run((c) => c >= 0x30 && c <= 0x39);
    if (!n) throw new ParseError('Expected a number');
    const v = Number(n);
    if (!Number.isSafeInteger(v) || v > 0xffffffff) throw new ParseError('Number out of range');
    return v;
  }

  /** RFC 7162 mod-sequence-value (1 to 2^63-1; 0 too where mod-sequence-valzer is allowed). Held as a
   *  JS number: values beyond 2^53 are refused rather than rounded. */
  modseq(allowZero = false): number {
    const n = this.run((c) => c >= 0x30 && c <= 0x39);
    if (!n) throw new ParseError('Expected a mod-sequence');
    const v = Number(n);
    if (!Number.isSafeInteger(v)) throw new ParseError('Mod-sequence out of range');
    if (v === 0 && !allowZero) throw new ParseError('Mod-sequence must be positive');
    return v;
  }

  private quoted(): Buffer {
    this.expect('"');
    const out: number[] = [];
    for (;;) {
      if (this.atEnd) throw new ParseError('Unterminated quoted string');
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x22) break;
      if (c === 0x5c) {
        const n = this.text.charCodeAt(this.pos++);
        if (n !== 0x22 && n !== 0x5c) throw new ParseError('Invalid escape in quoted string');
        out.push(n);
      } else if (c === 0x0d || c === 0x0a || c === 0) {
        throw new ParseError('Invalid character in quoted string');
      } else {
        out.push(c);
      }
    }
    return Buffer.from(out);
  }

  private literal(): Buffer {
    this.expect('\0', 'a literal');
    const lit = this.literals[this.literalIndex++];
    if (!lit) throw new ParseError('Literal missing');
    return lit;
  }

  /** True when a literal8 (`~{n}`, RFC 3516) comes next. */
  atLiteral8(): boolean {
    return this.text.startsWith('~\0', this.pos);
  }

  /** APPEND's message data: a literal, or a literal8 (which may carry NUL bytes). */
  literalOrLiteral8(): { data: Buffer; binary: boolean } {
    if (this.eat('~')) return { data: this.literal(), binary: true };
    if (this.peek() === '\0') return { data: this.literal(), binary: false };
    throw new ParseError(this.atEnd ? 'Missing arguments' : 'Expected a literal');
  }

  /** A string (quoted or literal) as bytes. */
  stringBytes(): Buffer {
    const c = this.peek();
    if (c === '"') return this.quoted();
    if (c === '\0') return this.literal();
    throw new ParseError(this.atEnd ? 'Missing arguments' : 'Expected a string');
  }

  astringBytes(): Buffer {
    const c = this.peek();
    if (c === '"' || c === '\0') return this.stringBytes();
    const a = this.run(this.utf8Names ? isUtf8AstringChar : isAstringChar);
    if (!a) throw new ParseError(this.atEnd ? 'Missing arguments' : 'Expected a string');
    return Buffer.from(a, 'latin1');
  }

  /** astring decoded as UTF-8 (user names, passwords, search text without CHARSET). */
  astring(): string {
    return this.astringBytes().toString('utf8');
  }

  /** list-mailbox: like astring but '%' and '*' are allowed unquoted. */
  listMailbox(): Buffer {
    const c = this.peek();
    if (c === '"' || c === '\0') return this.stringBytes();
    const a = this.run((ch) => isAstringChar(ch) || ch === 0x25 || ch === 0x2a || (this.utf8Names && ch >= 0x80));
    if (!a) throw new ParseError('Missing arguments');
    return Buffer.from(a, 'latin1');
  }

  /** Parenthesised list; calls item() for each element. An empty list is allowed. */
  list(item: () => void): void {
    this.expect('(');
    if (this.eat(')')) return;
    for (;;) {
      item();
      if (this.eat(')')) return;
      this.sp();
    }
  }

  /** Flag: \System or keyword atom. */
  flag(): string {
    if (this.eat('\\')) {
      if (this.eat('*')) return '\\*';
      return '\\' + this.atom();
    }
    return this.atom();
  }

  flagList(): string[] {
    const flags: string[] = [];
    if (this.peek() === '(') this.list(() => flags.push(this.flag()));
    else flags.push(this.flag());
    return flags;
  }

  /** Raw sequence-set text; validated by parseSequenceSet. */
  sequenceSet(): string {
    const s = this.run((c) => (c >= 0x30 && c <= 0x39) || c === 0x3a || c === 0x2c || c === 0x2a || c === 0x24);
    if (!s) throw new ParseError('Invalid message sequence set');
    return s;
  }
}
