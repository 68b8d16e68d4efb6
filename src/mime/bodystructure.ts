// BODY and BODYSTRUCTURE as Dovecot 2.3 writes them (imap-bodystructure.c).
import { envelopeInner } from './envelope.js';
import { nstringNoLfWire, stringWire } from './imap-string.js';
import type { MimePart, Param } from './types.js';

const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';
const NIL_ENVELOPE = '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)';

function paramsWire(params: Param[], defaultCharset: boolean): string {
  if (!defaultCharset && params.length === 0) return 'NIL';
  const items: string[] = [];
  let seenCharset = false;
  for (const p of params) {
    if (defaultCharset && p.name.toLowerCase() === 'charset') seenCharset = true;
    items.push(`${stringWire(p.name)} ${stringWire(p.value)}`);
  }
  if (defaultCharset && !seenCharset) items.push('"charset" "us-ascii"');
  return `(${items.join(' ')})`;
}

function commonExtWire(part: MimePart): string {
  const disp = part.disposition ? `(${stringWire(part.disposition.type)} ${paramsWire(part.disposition.params, false)})` : 'NIL';
  const lang = part.language ? `(${part.language.map(stringWire).join(' ')})` : 'NIL';
  return ` ${disp} ${lang} ${nstringNoLfWire(part.location)}`;
}

function write(part: MimePart, raw: Buffer, extended: boolean, out: string[]): void {
  out.push('(');
  if (part.isMultipart) {
    if (part.children.length > 0) for (const c of part.children) write(c, raw, extended, out);
    else out.push(extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY);
    out.push(' ', stringWire(part.subtype ?? ''));
    if (extended) out.push(' ', paramsWire(part.params, false), commonExtWire(part));
    out.push(')');
    return;
  }
  let text = false;
  if (part.isMessage) {
    out.push('"message" "rfc822" ', paramsWire(part.params, false));
  } else if (part.type === null) {
    text = true;
    out.push('"text" "plain" ', paramsWire(part.params, true));
  } else {
    text = part.type.toLowerCase() === 'text';
    out.push(stringWire(part.type), ' ', stringWire(part.subtype ?? ''), ' ', paramsWire(part.params, text));
  }
  out.push(' ', nstringNoLfWire(part.id), ' ', nstringNoLfWire(part.description), ' ');
  out.push(part.encoding !== null ? stringWire(part.encoding) : '"7bit"', ` ${part.bodySize}`);
  if (text) {
    out.push(` ${part.bodyLines}`);
  } else if (part.isMessage) {
    if (part.message) {
      out.push(' (', envelopeInner(part.message, raw), ') ');
      write(part.message, raw, extended, out);
    } else {
      out.push(' ', NIL_ENVELOPE, ' ', extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY);
    }
    out.push(` ${part.bodyLines}`);
  }
  if (extended) out.push(' ', nstringNoLfWire(part.md5), commonExtWire(part));
  out.push(')');
}

/**
 * BODYSTRUCTURE (extended = true) or BODY (extended = false) of a message, parenthesised.
 * Returns a wire string (one char per byte): send it with Buffer.from(s, 'latin1').
 */
export function bodyStructure(part: MimePart, raw: Buffer, extended: boolean): string {
  const out: string[] = [];
  write(part, raw, extended, out);
  return out.join('');
}
