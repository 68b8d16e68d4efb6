// IMAP string syntax as Dovecot writes it. Every function returns a "wire string": one JS char per
// byte (latin1), so 8-bit header bytes pass through unchanged. Write it with
// Buffer.from(s, 'latin1') -- never as UTF-8, or 8-bit bytes are doubled and literal counts break.
// Input: a Buffer is raw bytes; a string is Unicode text and is UTF-8 encoded (wire strings made by
// this module only contain chars <= 0xFF and are passed through by the *Wire variants).

/** Converts Unicode text to a wire (latin1 byte) string holding its UTF-8 bytes. */
export function toWire(value: Buffer | string): string {
  if (typeof value !== 'string') return value.toString('latin1');
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(value)) return value;
  return Buffer.from(value, 'utf8').toString('latin1');
}

/** Wire string back to bytes. */
export function wireToBuffer(wire: string): Buffer {
  return Buffer.from(wire, 'latin1');
}

export function literalWire(wire: string): string {
  return `{${wire.length}}\r\n${wire}`;
}

export function quotedWire(wire: string): string {
  return `"${wire.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Dovecot's imap_append_string: quoted unless the value has CR, LF, 8-bit bytes or more than four
 * characters needing escapes; then a literal. NUL ends the value, as in Dovecot's C strings.
 */
export function stringWire(wire: string): string {
  const nul = wire.indexOf('\0');
  if (nul >= 0) wire = wire.slice(0, nul);
  let escapes = 0;
  for (let i = 0; i < wire.length; i++) {
    const c = wire.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      if (escapes++ >= 4) return literalWire(wire);
    } else if (c === 13 || c === 10 || c >= 0x80) {
      return literalWire(wire);
    }
  }
  return quotedWire(wire);
}

export function nstringWire(wire: string | null | undefined): string {
  return wire == null ? 'NIL' : stringWire(wire);
}

/**
 * Dovecot's imap_append_nstring_nolf: CR and LF are dropped; a line break not followed by
 * whitespace becomes one space so words do not run together.
 */
export function nstringNoLfWire(wire: string | null | undefined): string {
  if (wire == null) return 'NIL';
  if (!/[\r\n]/.test(wire)) return stringWire(wire);
  let out = '';
  for (let i = 0; i < wire.length; i++) {
    const ch = wire[i];
    if (ch !== '\r' && ch !== '\n') {
      out += ch;
      continue;
    }
    const next = wire[i + 1];
    if (next !== undefined && next !== ' ' && next !== '\t' && next !== '\r' && next !== '\n' && next !== '\0') out += ' ';
  }
  return stringWire(out);
}

/**
 * Dovecot's imap_append_string_for_humans (subjects and display names). A value that needs no
 * change is quoted as is; otherwise whitespace runs (CR included) become one space, LF vanishes, leading and
 * trailing whitespace go, NUL becomes 0x80, and the result is always sent as a literal (that is
 * also how quotes, backslashes and 8-bit bytes travel).
 */
export function humanStringWire(wire: string): string {
  let modify = false;
  let lastLwsp = true;
  for (let i = 0; i < wire.length; i++) {
    const c = wire.charCodeAt(i);
    if (c === 0x20) {
      if (lastLwsp) modify = true;
      lastLwsp = true;
    } else if (c === 0x09 || c === 13) {
      modify = true;
      lastLwsp = true;
    } else if (c === 10 || c === 0 || c === 0x22 || c === 0x5c || c >= 0x80) {
      modify = true;
      if (c !== 10) lastLwsp = false;
    } else {
      lastLwsp = false;
    }
  }
  if (lastLwsp && wire.length > 0) modify = true;
  if (!modify) return `"${wire}"`;
  let out = '';
  lastLwsp = true;
  for (let i = 0; i < wire.length; i++) {
    const c = wire.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 13) {
      // A bare CR counts as whitespace (Dovecot shows "a\rb" as "a b"); in CRLF folding the
      // following whitespace is merged anyway.
      if (!lastLwsp) out += ' ';
      lastLwsp = true;
    } else if (c === 10) {
      continue;
    } else {
      out += c === 0 ? '\x80' : wire[i];
      lastLwsp = false;
    }
  }
  if (out.endsWith(' ')) out = out.slice(0, -1);
  if (out.length === 0) return '""';
  return literalWire(out);
}

// ---- Unicode-facing helpers for protocol code ----

/** A quoted string; throws nothing -- falls back to a literal if the value cannot be quoted. */
export function quoted(value: Buffer | string): string {
  return stringWire(toWire(value));
}

/** A literal `{n}\r\n` + bytes (n counts bytes). */
export function literal(value: Buffer | string): string {
  return literalWire(toWire(value));
}

/** nstring: NIL, quoted when safe 7-bit, else a literal. */
export function nstring(value: Buffer | string | null | undefined): string {
  return value == null ? 'NIL' : stringWire(toWire(value));
}

/** astring: a bare atom when the value is a non-empty run of ATOM-CHARs (plus ']'), else a string. */
export function astring(value: Buffer | string): string {
  const wire = toWire(value);
  // ASTRING-CHAR = ATOM-CHAR / resp-specials(']'); atom-specials are ( ) { SP CTL % * " \ ]
  // eslint-disable-next-line no-control-regex
  if (wire.length > 0 && /^[^(){ \x00-\x1f\x7f%*"\\\x80-\xff]+$/.test(wire)) return wire;
  return stringWire(wire);
}

/**
 * IMAP literals may not carry NUL (RFC 3501 CHAR8); Dovecot sends each NUL of a BODY[] section as
 * 0x80. Byte-for-byte, so <partial> offsets are unaffected. Copies only when a NUL is present.
 */
export function replaceNul(bytes: Buffer): Buffer {
  if (bytes.indexOf(0) < 0) return bytes;
  const out = Buffer.from(bytes);
  for (let i = out.indexOf(0); i >= 0; i = out.indexOf(0, i + 1)) out[i] = 0x80;
  return out;
}
