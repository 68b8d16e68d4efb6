// Charset decoding without start-up cost: Node's built-in TextDecoder (full ICU: ISO-8859-*,
// windows-*, ISO-2022-JP, Shift_JIS, EUC-*, GBK/GB18030, Big5, KOI8, UTF-16...) handles almost
// everything synchronously; iconv-lite covers the rest (UTF-7, old code pages) once
// loadCharsets() has been awaited -- it is imported lazily so start-up never pays for it.

type Iconv = { decode(buf: Buffer, enc: string): string; encodingExists(enc: string): boolean };

let iconv: Iconv | null = null;
/** Decoders by charset name as messages spell them (unknown names remembered as null). The names come
 *  from mail, and a resident worker reads mail for hours: past DECODERS_MAX names the map starts again. */
const decoders = new Map<string, TextDecoder | null>();
const DECODERS_MAX = 256;

/** How many charset names are remembered now (tests). */
export function charsetCacheSize(): number {
  return decoders.size;
}

/** Loads iconv-lite for charsets TextDecoder lacks. Safe to call repeatedly. */
export async function loadCharsets(): Promise<void> {
  if (iconv) return;
  const mod = (await import('iconv-lite')) as unknown as { default?: Iconv } & Iconv;
  iconv = mod.default ?? mod;
}

function normalizeName(charset: string): string {
  let c = charset.trim().toLowerCase();
  if (c.startsWith('"') && c.endsWith('"') && c.length >= 2) c = c.slice(1, -1).trim();
  // RFC 2231 language suffix (charset*lang) is not part of the name.
  const star = c.indexOf('*');
  if (star >= 0) c = c.slice(0, star);
  return c;
}

function textDecoder(name: string): TextDecoder | null {
  let d = decoders.get(name);
  if (d === undefined) {
    try {
      d = new TextDecoder(name);
    } catch {
      d = null;
    }
    if (decoders.size >= DECODERS_MAX) decoders.clear();
    decoders.set(name, d);
  }
  return d;
}

const WIN1252_NAMES = new Set(['windows-1252', 'cp1252', 'iso-8859-1', 'iso8859-1', 'latin1', 'l1', 'iso_8859-1', 'cp819', 'ibm819']);

// Windows-1252 0x80-0x9F (Node's ICU decoder maps these to C1 controls, which no sender meant).
const CP1252_HIGH = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';

function decodeWindows1252(bytes: Uint8Array): string {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return latin1.replace(/[\x80-\x9f]/g, (ch) => CP1252_HIGH[ch.charCodeAt(0) - 0x80]);
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextDecoder('utf-8');

/** Bytes of unknown or 8-bit-in-ASCII text: UTF-8 when valid, else Windows-1252 (the usual truth). */
export function decodeUnlabelled(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return decodeWindows1252(bytes);
  }
}

/** True when the charset can be decoded (synchronously, now). */
export function charsetKnown(charset: string): boolean {
  const name = normalizeName(charset);
  if (name === '' || name === 'us-ascii' || name === 'ascii') return true;
  if (textDecoder(name)) return true;
  return iconv !== null && iconv.encodingExists(name);
}

/**
 * Decodes bytes in a charset to a JS string. Unknown charset → null. US-ASCII (and no charset)
 * tolerates 8-bit bytes as UTF-8 or Windows-1252. Never throws.
 */
export function decodeCharset(bytes: Uint8Array, charset: string): string | null {
  const name = normalizeName(charset);
  if (name === '' || name === 'us-ascii' || name === 'ascii' || name === 'unknown-8bit' || name === 'x-unknown') return decodeUnlabelled(bytes);
  if (name === 'utf-8' || name === 'utf8') return utf8.decode(bytes);
  // Mail labelled Latin-1 is nearly always Windows-1252 in practice (the WHATWG rule too).
  if (WIN1252_NAMES.has(name)) return decodeWindows1252(bytes);
  const d = textDecoder(name);
  try {
    if (d) return d.decode(bytes);
    if (iconv && iconv.encodingExists(name)) return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name);
  } catch {
    return decodeUnlabelled(bytes);
  }
  return null;
}
