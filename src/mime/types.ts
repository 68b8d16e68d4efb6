// The parsed shape of a message. All offsets are byte offsets into the raw message Buffer; text
// values are "wire strings" (one char per byte, latin1) so 8-bit header bytes survive unchanged.

export interface HeaderField {
  /** Field name as written, trailing whitespace removed. */
  name: string;
  /** Start of the field's first line. */
  start: number;
  /** Just after the field's last line ending. */
  end: number;
  /** First byte after the colon (or `end` for a line without a colon). */
  valueStart: number;
  /** False for a header line without a colon (kept for HEADER, ignored otherwise). */
  hasColon: boolean;
}

export interface Param {
  name: string;
  value: string;
}

export interface Disposition {
  type: string;
  params: Param[];
}

export interface MimePart {
  /** Start of the header; header runs [headerStart, bodyStart). */
  headerStart: number;
  /** Start of the body, just after the blank line that ends the header. */
  bodyStart: number;
  /** End of the body (exclusive). The line break before a boundary line is not part of it. */
  bodyEnd: number;
  fields: HeaderField[];
  /** The header ended with an empty line (false: it ran into end of input or a boundary). */
  hasBlankLine: boolean;
  /** Content-Type as written (case kept), or null when absent or unparsable. */
  type: string | null;
  subtype: string | null;
  params: Param[];
  /** What the body is treated as. */
  isMultipart: boolean;
  isMessage: boolean;
  /** True when the body is text (Content-Type text/* or defaulted to text/plain). */
  isText: boolean;
  disposition: Disposition | null;
  language: string[] | null;
  location: string | null;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding token as written, or null (= 7bit). */
  encoding: string | null;
  md5: string | null;
  /** Body size and line count as IMAP reports them (CRLF line ends, LF counted as CRLF). */
  bodySize: number;
  bodyLines: number;
  headerSize: number;
  children: MimePart[];
  /** For message/rfc822: the encapsulated message, or null when it is not parsed (e.g. base64). */
  message: MimePart | null;
  /** Nesting depth; parts deeper than the cap are not split further. */
  depth: number;
}

export type SectionKind = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'MIME' | 'TEXT';

export interface SectionSpec {
  path: number[];
  kind?: SectionKind;
  fields?: string[];
}
