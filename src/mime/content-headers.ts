// Content-* header fields → MimePart data, following Dovecot's message-part-data.c: the first
// occurrence of each field wins.
import { fieldValue } from './header.js';
import { Rfc822Parser, NUL_REPLACEMENT } from './rfc822-parser.js';
import type { MimePart, Param } from './types.js';

/** RFC 2231 parameter list in Dovecot's form: continuations joined, charsets left encoded. */
export function parseParams(p: Rfc822Parser): Param[] {
  const plain: Param[] = [];
  const ext: { key: string; idx: number; extended: boolean; value: string }[] = [];
  let guard = 0;
  for (;;) {
    if (++guard > 100000) break;
    const r = p.parseContentParam();
    if (r.ret === 0) break;
    if (r.ret < 0) {
      // Skip a byte and retry: Dovecot's recovery, which resyncs at the next ';'.
      if (p.atEnd()) break;
      p.pos++;
      continue;
    }
    const star = r.key.indexOf('*');
    let handled = false;
    if (star >= 0) {
      let i = star;
      let idx = 0;
      if (i + 1 < r.key.length) {
        i++;
        while (i < r.key.length && r.key[i] >= '0' && r.key[i] <= '9') {
          idx = idx * 10 + (r.key.charCodeAt(i) - 48);
          i++;
        }
      }
      let extended = false;
      if (r.key[i] === '*') {
        extended = true;
        i++;
      }
      if (i >= r.key.length) {
        ext.push({ key: r.key.slice(0, star), idx, extended, value: r.value });
        handled = true;
      }
    }
    if (!handled) plain.push({ name: r.key, value: r.value });
  }
  if (ext.length === 0) return plain;
  ext.sort((a, b) => {
    const ka = a.key.toLowerCase();
    const kb = b.key.toLowerCase();
    return ka < kb ? -1 : ka > kb ? 1 : a.idx - b.idx;
  });
  for (let i = 0; i < ext.length; ) {
    let j = i;
    let ok = true;
    let haveExtended = false;
    let next = 0;
    const lk = ext[i].key.toLowerCase();
    for (; j < ext.length && ext[j].key.toLowerCase() === lk; j++) {
      if (ext[j].idx !== next) ok = false;
      if (ext[j].extended) haveExtended = true;
      next++;
    }
    if (!ok) {
      for (let k = i; k < j; k++) {
        plain.push({ name: `${ext[k].key}*${ext[k].idx}${ext[k].extended ? '*' : ''}`, value: ext[k].value });
      }
    } else {
      let v = !ext[i].extended && haveExtended ? "''" : '';
      for (let k = i; k < j; k++) {
        v += !ext[k].extended && haveExtended ? rfc2231Escape(ext[k].value) : ext[k].value;
      }
      plain.push({ name: haveExtended ? `${ext[i].key}*` : ext[i].key, value: v });
    }
    i = j;
  }
  return plain;
}

function rfc2231Escape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || '%*\'"() ;,<>@:\\/[]?='.includes(s[i])) out += '%' + c.toString(16).toUpperCase().padStart(2, '0');
    else out += s[i];
  }
  return out;
}

/**
 * Content-Type as Dovecot reads it: type and subtype (subtype "" when missing), and the parser
 * positioned at the parameters -- or null when the value was broken and parameters must be
 * ignored. Dovecot keeps even a broken type so that text-ness stays consistent.
 */
export function parseContentTypeValue(value: string): { type: string; subtype: string; parser: Rfc822Parser | null } {
  const p = new Rfc822Parser(value, false, NUL_REPLACEMENT);
  p.skipLwsp();
  const out = { v: '' };
  const ret = p.parseContentType(out);
  const slash = out.v.indexOf('/');
  return {
    type: slash < 0 ? out.v : out.v.slice(0, slash),
    subtype: slash < 0 ? '' : out.v.slice(slash + 1),
    parser: ret < 0 ? null : p,
  };
}

/** IMAP strings cannot carry NUL; Dovecot shows it as U+FFFD (UTF-8 bytes), and so do we. */
function cstr(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, NUL_REPLACEMENT) : s;
}

/** Fills type, params, encoding, disposition, etc. from the part's Content-* fields. */
export function applyContentFields(part: MimePart, raw: Buffer): void {
  let typeSet = false;
  let dispSet = false;
  for (const f of part.fields) {
    if (!f.hasColon || f.name.length < 9) continue;
    const lname = f.name.toLowerCase();
    if (!lname.startsWith('content-')) continue;
    const name = lname.slice(8);
    switch (name) {
      case 'type':
        if (!typeSet) {
          // The first Content-Type decides; an unparsable one leaves an empty type and no params.
          typeSet = true;
          const ct = parseContentTypeValue(cstr(fieldValue(raw, f)));
          part.type = ct.type;
          part.subtype = ct.subtype;
          part.params = ct.parser ? parseParams(ct.parser) : [];
        }
        break;
      case 'transfer-encoding':
        if (part.encoding === null) {
          const p = new Rfc822Parser(cstr(fieldValue(raw, f)));
          p.skipLwsp();
          const out = { v: '' };
          if (p.parseMimeToken(out) >= 0 && p.skipLwsp() === 0 && out.v.length > 0) part.encoding = out.v;
        }
        break;
      case 'id':
        if (part.id === null) part.id = cstr(fieldValue(raw, f));
        break;
      case 'md5':
        if (part.md5 === null) part.md5 = cstr(fieldValue(raw, f));
        break;
      case 'description':
        if (part.description === null) part.description = cstr(fieldValue(raw, f));
        break;
      case 'location':
        if (part.location === null) part.location = cstr(fieldValue(raw, f));
        break;
      case 'language':
        if (part.language === null) part.language = parseLanguage(cstr(fieldValue(raw, f)));
        break;
      case 'disposition':
        if (!dispSet) {
          const p = new Rfc822Parser(cstr(fieldValue(raw, f)), false, NUL_REPLACEMENT);
          p.skipLwsp();
          const out = { v: '' };
          if (p.parseMimeToken(out) >= 0) {
            dispSet = true;
            part.disposition = { type: out.v, params: parseParams(p) };
          }
        }
        break;
    }
  }
}

function parseLanguage(value: string): string[] | null {
  const p = new Rfc822Parser(value);
  p.skipLwsp();
  const langs: string[] = [];
  for (;;) {
    const out = { v: '' };
    if (p.parseAtom(out) < 0) break;
    langs.push(out.v);
    if (p.atEnd() || p.cur() !== 0x2c) break;
    p.pos++;
    p.skipLwsp();
  }
  return langs.length > 0 ? langs : null;
}

/**
 * A parameter's value for people (e.g. an attachment's file name): RFC 2231 `name*` values
 * (charset'language'%XX, continuations already joined) and RFC 2047 words in plain values are
 * decoded. null when the parameter is absent. BODYSTRUCTURE itself sends parameters raw.
 */
export function decodedParam(params: readonly Param[], name: string, decode: (bytes: Buffer, charset: string) => string | null, decodeWords: (v: string) => string): string | null {
  const lower = name.toLowerCase();
  const ext = params.find((p) => p.name.toLowerCase() === `${lower}*`);
  if (ext) {
    const m = /^([^']*)'[^']*'(.*)$/s.exec(ext.value);
    const charset = m ? m[1] : 'us-ascii';
    const text = m ? m[2] : ext.value;
    const bytes = Buffer.from(text.replace(/%([0-9a-fA-F]{2})|([\s\S])/g, (_, hex: string | undefined, ch: string | undefined) => (hex ? String.fromCharCode(parseInt(hex, 16)) : (ch as string))), 'latin1');
    return decode(bytes, charset) ?? bytes.toString('latin1');
  }
  const plain = params.find((p) => p.name.toLowerCase() === lower);
  return plain ? decodeWords(plain.value) : null;
}
