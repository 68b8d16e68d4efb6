// Turning a client's mailbox argument into the store's wire name: modified UTF-7 (raw UTF-8 from lax
// clients is re-encoded), INBOX in any case folded to "INBOX", and hostile names refused before they
// get near a path (.. components, leading '/', '~', NUL, empty components). The one place for the
// protocol's rules on names: a name being made (CREATE, RENAME's target) may not hold the LIST
// wildcards either.

import { decodeMutf7, encodeMutf7 } from './mutf7.js';

export class NameError extends Error {}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding (null for malformed bytes, overlongs, surrogates). */
export function decodeUtf8(b: Buffer): string | null {
  try {
    return fatalUtf8.decode(b);
  } catch {
    return null;
  }
}

const MAX_NAME = 1000;

export interface NameOptions {
  /** Accept "a/b/" (RENAME target: dropped). */
  allowTrailingDelimiter?: boolean;
  /** CREATE keeps it, as RFC 3501 means "will hold folders" and a UW-style store then makes a directory. */
  keepTrailingDelimiter?: boolean;
  /** A name being made (CREATE, RENAME's target): '*' and '%' are refused, since LIST could not name
   *  such a mailbox without also matching others (existing ones made elsewhere stay usable). */
  newName?: boolean;
  /** The name is UTF-8, as IMAP4rev2 and UTF8=ACCEPT sessions send it ('&' is then itself). */
  utf8?: boolean;
}

/** The LIST wildcards (RFC 3501 §6.3.8). */
const WILDCARDS = /[*%]/;

export function canonicalName(raw: Buffer, opts: NameOptions = {}): string {
  let name: string;
  if (opts.utf8) {
    const text = decodeUtf8(raw);
    if (text === null) throw new NameError('Mailbox name is not valid UTF-8');
    if (/[\x00-\x1f\x7f]/.test(text)) throw new NameError('Invalid mailbox name');
    name = encodeMutf7(text);
  } else if (raw.some((b) => b >= 0x80)) {
    const utf8 = raw.toString('utf8');
    if (utf8.includes('\ufffd')) throw new NameError('Mailbox name is not valid UTF-8 or modified UTF-7');
    name = encodeMutf7(utf8);
  } else {
    name = raw.toString('latin1');
  }
  let trailing = false;
  if (opts.allowTrailingDelimiter || opts.keepTrailingDelimiter) {
    while (name.length > 1 && name.endsWith('/')) {
      name = name.slice(0, -1);
      trailing = true;
    }
  }
  const decoded = decodeMutf7(name);
  if (decoded === null) throw new NameError('Mailbox name is not valid modified UTF-7');
  if (name === '') throw new NameError('Empty mailbox name');
  if (name.length > MAX_NAME) throw new NameError('Mailbox name too long');
  if (name.startsWith('/') || name.startsWith('~') || name.includes('\0')) throw new NameError('Invalid mailbox name');
  if (opts.newName && WILDCARDS.test(name)) throw new NameError("Mailbox names cannot contain '*' or '%' (LIST wildcards)");
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new NameError('Invalid mailbox name');
  if (parts[0]!.toUpperCase() === 'INBOX') parts[0] = 'INBOX';
  return parts.join('/') + (trailing && opts.keepTrailingDelimiter ? '/' : '');
}

/** Same folding for a LIST/LSUB pattern or reference (wildcards allowed, no validation of components). */
export function canonicalPattern(raw: Buffer): string {
  const s = raw.some((b) => b >= 0x80) ? encodeMutf7(raw.toString('utf8')) : raw.toString('latin1');
  return foldInbox(s);
}

/** A LIST pattern of a UTF-8 session, as Unicode text, to match against store names decoded
 *  (rev2.unicodeName): a modified UTF-7 pattern could not match a prefix of an encoded run. */
export function unicodePattern(raw: Buffer): string {
  const text = decodeUtf8(raw);
  if (text === null) throw new NameError('Mailbox pattern is not valid UTF-8');
  return foldInbox(text);
}

function foldInbox(pattern: string): string {
  let s = pattern;
  if (/^inbox(?=$|\/)/i.test(s)) s = 'INBOX' + s.slice(5);
  return s;
}

/** Folders named like these get RFC 6154 SPECIAL-USE attributes. Matched on the last component. */
const SPECIAL: Record<string, string> = {
  sent: '\\Sent', 'sent items': '\\Sent', 'sent messages': '\\Sent', 'sent mail': '\\Sent',
  drafts: '\\Drafts', draft: '\\Drafts',
  trash: '\\Trash', 'deleted items': '\\Trash', 'deleted messages': '\\Trash', bin: '\\Trash',
  junk: '\\Junk', spam: '\\Junk', 'junk e-mail': '\\Junk', 'junk email': '\\Junk',
  archive: '\\Archive', archives: '\\Archive',
};

export function specialUse(name: string): string | undefined {
  if (name.includes('/')) return undefined;
  // Without '&' a modified UTF-7 name is its own decoding. Own keys only: a folder named
  // "constructor" or "toString" has no special use.
  const key = (name.includes('&') ? decodeMutf7(name) ?? name : name).toLowerCase();
  return Object.hasOwn(SPECIAL, key) ? SPECIAL[key] : undefined;
}
