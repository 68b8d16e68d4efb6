// Small encoders for response syntax.

/** A string as quoted or, when it cannot be quoted (CR, LF, 8-bit, long), as a literal. */
export function imapString(s: string): string {
  if (/[\r\n\0\x80-\uffff]/.test(s) || s.length > 1000) {
    const b = Buffer.from(s, 'utf8');
    return `{${b.length}}\r\n${b.toString('latin1')}`;
  }
  return `"${s.replace(/[\\"]/g, (c) => '\\' + c)}"`;
}

/** Mailbox names are modified UTF-7 (ASCII): quoted unless a plain atom does. */
export function mailboxString(name: string): string {
  return /^[A-Za-z0-9._\-/&+,:;!$'=?@^`|~#]+$/.test(name) && name !== 'NIL' ? name : imapString(name);
}

export function flagList(flags: Iterable<string>, recent = false): string {
  const all = [...flags];
  if (recent) all.push('\\Recent');
  return `(${all.join(' ')})`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time for INTERNALDATE, in UTC (we do not know the delivering host's zone). */
export function imapDateTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const t = Number.isNaN(d.getTime()) ? new Date(0) : d;
  return `"${p(t.getUTCDate())}-${MONTHS[t.getUTCMonth()]}-${t.getUTCFullYear()} ${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())} +0000"`;
}

/** Parse "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded or one digit). */
export function parseDateTime(s: string): Date | null {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const mon = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (mon < 0) return null;
  const [d, h, mi, se, zh, zm] = [m[1], m[4], m[5], m[6], m[8], m[9]].map(Number) as [number, number, number, number, number, number];
  if (d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || zm > 59) return null;
  const offset = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const t = Date.UTC(Number(m[3]), mon, d, h, mi, se) - offset * 60_000;
  return new Date(t);
}

/** Parse a SEARCH date "d-Mon-yyyy" as a calendar day (UTC midnight). */
export function parseDate(s: string): Date | null {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s);
  if (!m) return null;
  const mon = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  const d = Number(m[1]);
  if (mon < 0 || d < 1 || d > 31) return null;
  return new Date(Date.UTC(Number(m[3]), mon, d));
}
