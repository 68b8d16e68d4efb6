// Measures one stored message as its bytes stream past, in pieces of any size: RFC822.SIZE (what
// clientView() would produce), the status headers, the From-line date and the recognition hash. Only
// bounded state is kept (a line's first bytes, one status header's first 64 KB), so indexing a spool
// with a 200 MB message never holds that message in memory. The rules mirror layoutOf/clientSize/
// statusOf in format.ts exactly; test/store/meter.test.ts checks them against each other.

import { LF, INTERNAL_HEADERS, PSEUDO_SUBJECT, applyStatusField, headerName, parseFromLine, type StatusFields } from './format.js';

const CR = 0x0d;
const GT = 0x3e;
const FROM_ = Buffer.from('From ', 'latin1');
/** Bytes of a line kept: the From line (parseFromLine reads 1000) and a header name (headerName reads 80). */
const LINE_HEAD = 1024;
/** statusOf reads at most this much of one header field. */
const FIELD_CAP = 64 * 1024;
const KEY_BYTES = 512;

export interface Measured {
  size: number;
  /** INTERNALDATE in ms (0 when the From line has no date). */
  date: number;
  status: StatusFields;
  key: number;
}

export class MessageMeter {
  private total = 0;
  private hash = 0x811c9dc5;
  private phase: 'from' | 'header' | 'body' = 'from';
  private size = 0;
  // The current line: its length, first bytes, last two bytes and quoting state.
  private lineLen = 0;
  private readonly head: Buffer = Buffer.allocUnsafe(LINE_HEAD);
  private headLen = 0;
  private b1 = -1;
  private b2 = -1;
  /** mboxrd quoting: 0 line start, 1 in a '>' run, 2..6 matching "From " (index + 2), 7 quoted, 8 not. */
  private q = 0;
  /** Header phase: the current line's first FIELD_CAP bytes (we learn which field it is at its end). */
  private lineText: Buffer[] = [];
  private lineTextLen = 0;
  /** A blank body line not yet counted: dropped if it is the message's last line (the separator). */
  private pendingBlank = false;
  // The header field being read.
  private haveHeader = false;
  private fieldInternal = false;
  /** Its name when statusOf reads it, else ''. */
  private fieldName = '';
  private fieldText: Buffer[] = [];
  private fieldLen = 0;
  private readonly st: StatusFields = { flags: 0, keywords: [], uid: 0, pseudo: false };
  private internalSubject = false;
  private internalSender = false;
  private date = 0;

  feed(buf: Buffer, s = 0, e = buf.length): void {
    if (this.total < KEY_BYTES) {
      const lim = Math.min(e, s + KEY_BYTES - this.total);
      let h = this.hash;
      for (let i = s; i < lim; i++) { h ^= buf[i]!; h = Math.imul(h, 0x01000193) >>> 0; }
      this.hash = h >>> 0;
    }
    this.total += e - s;
    let pos = s;
    while (pos < e) {
      const nl = buf.indexOf(LF, pos);
      const le = nl < 0 || nl >= e ? e : nl + 1;
      this.addToLine(buf, pos, le);
      if (buf[le - 1] === LF) this.endLine(true);
      pos = le;
    }
  }

  finish(): Measured {
    if (this.lineLen > 0) this.endLine(false);
    if (this.phase !== 'body') this.endField();
    // A trailing blank body line is the separator before the next `From `, not content.
    this.pendingBlank = false;
    if (this.internalSubject && this.internalSender) this.st.pseudo = true;
    return { size: this.size, date: this.date, status: this.st, key: this.hash };
  }

  private addToLine(buf: Buffer, s: number, e: number): void {
    // The line's head is read only in the From line and the header (a body line's phase stays 'body'
    // until it ends): body lines are not copied.
    if (this.phase !== 'body' && this.headLen < LINE_HEAD) {
      const n = Math.min(e - s, LINE_HEAD - this.headLen);
      buf.copy(this.head, this.headLen, s, s + n);
      this.headLen += n;
    }
    if (this.phase === 'header' && this.lineTextLen < FIELD_CAP) {
      const n = Math.min(e - s, FIELD_CAP - this.lineTextLen);
      this.lineText.push(Buffer.from(buf.subarray(s, s + n)));
      this.lineTextLen += n;
    }
    for (let i = s; i < e && this.q < 7; i++) this.stepQuote(buf[i]!);
    if (e - s >= 2) { this.b2 = buf[e - 2]!; this.b1 = buf[e - 1]!; } else { this.b2 = this.b1; this.b1 = buf[s]!; }
    this.lineLen += e - s;
  }

  private stepQuote(c: number): void {
    if (this.q === 0) this.q = c === GT ? 1 : 8;
    else if (this.q === 1) {
      if (c !== GT) this.q = c === FROM_[0] ? 3 : 8;
    } else {
      const k = this.q - 2;
      this.q = c === FROM_[k] ? (k === 4 ? 7 : this.q + 1) : 8;
    }
  }

  private endLine(hasLf: boolean): void {
    const cr = hasLf && this.lineLen >= 2 && this.b2 === CR;
    const content = this.lineLen - (hasLf ? 1 : 0) - (cr ? 1 : 0);
    const counted = content - (this.q === 7 ? 1 : 0) + (hasLf ? 2 : 0);
    if (this.phase === 'from') {
      const end = this.lineLen - (hasLf ? 1 : 0);
      const d = parseFromLine(this.head, 0, Math.min(end, this.headLen));
      this.date = d ? d.getTime() : 0;
      this.internalSender = this.head.toString('latin1', 0, Math.min(20, this.headLen)).startsWith('From MAILER-DAEMON ');
      this.phase = 'header';
    } else if (this.phase === 'header') {
      if (hasLf && content === 0) {
        this.endField();
        this.phase = 'body';
        this.size += counted;
      } else {
        this.headerLine(counted);
      }
    } else if (hasLf && content === 0) {
      if (this.pendingBlank) this.size += 2;
      this.pendingBlank = true;
    } else {
      if (this.pendingBlank) { this.size += 2; this.pendingBlank = false; }
      this.size += counted;
    }
    this.lineLen = 0;
    this.headLen = 0;
    this.q = 0;
    this.b1 = -1;
    this.b2 = -1;
    if (this.lineText.length) this.lineText = [];
    this.lineTextLen = 0;
  }

  /** A complete header line: a continuation of the current field or the start of a new one. */
  private headerLine(counted: number): void {
    const name = headerName(this.head, 0, this.headLen);
    if (!name && this.haveHeader) {
      // Continuation (or a malformed line, which layoutOf also joins to the field before it).
      if (!this.fieldInternal) this.size += counted;
      if (this.fieldName) this.addFieldText();
      return;
    }
    this.endField();
    this.haveHeader = true;
    this.fieldInternal = INTERNAL_HEADERS.has(name);
    if (!this.fieldInternal) this.size += counted;
    const read = this.fieldInternal || name === 'subject' || name === 'x-uidl' || name === 'from';
    this.fieldName = read ? name : '';
    if (read) this.addFieldText();
  }

  private addFieldText(): void {
    for (const b of this.lineText) {
      if (this.fieldLen >= FIELD_CAP) return;
      const n = Math.min(b.length, FIELD_CAP - this.fieldLen);
      this.fieldText.push(b.subarray(0, n));
      this.fieldLen += n;
    }
  }

  private endField(): void {
    if (this.fieldName && this.fieldText.length) {
      const line = Buffer.concat(this.fieldText).toString('latin1');
      const value = line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]*/g, ' ').trim();
      if (this.fieldName === 'subject') this.internalSubject = value.includes(PSEUDO_SUBJECT);
      else if (this.fieldName === 'from') this.internalSender ||= value.includes('Mail System Internal Data');
      else applyStatusField(this.st, this.fieldName, value);
    }
    this.fieldName = '';
    this.fieldText = [];
    this.fieldLen = 0;
  }
}
