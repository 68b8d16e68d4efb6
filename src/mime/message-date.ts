// The Date: header as an instant (RFC 5322 §3.3 with the obsolete forms of §4.3: two- and three-digit
// years, zone names, comments), for SORT DATE and THREAD's sent date. Tolerant like Dovecot's
// message_date_parse: the day of the week is not checked, seconds are optional.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0,
  est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

const DATE = /^\s*(?:[a-z]+\s*,?\s*)?(\d{1,2})\s*[- ]?\s*([a-z]{3})[a-z]*\.?\s*[- ]?\s*(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{1,2})(?:\s*:\s*(\d{1,2}))?\s*([+-]\d{4}|[a-z]+)?/i;

/** Milliseconds since the epoch (UTC) of a Date: header value, or null when it cannot be parsed. */
export function parseMessageDate(value: string): number | null {
  const text = value.replace(/\([^()]*\)/g, ' ');
  const m = DATE.exec(text);
  if (!m) return null;
  const day = Number(m[1]);
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const h = Number(m[4]);
  const min = Number(m[5]);
  const sec = m[6] === undefined ? 0 : Number(m[6]);
  if (mon < 0 || day < 1 || day > 31 || h > 23 || min > 59 || sec > 60) return null;
  let offset = 0; // minutes east of UTC; a missing or unknown zone is -0000 (RFC 5322 §4.3)
  const z = m[7];
  if (z !== undefined) {
    if (z[0] === '+' || z[0] === '-') {
      const hh = Number(z.slice(1, 3));
      const mm = Number(z.slice(3, 5));
      if (mm > 59) return null;
      offset = (z[0] === '-' ? -1 : 1) * (hh * 60 + mm);
    } else {
      offset = ZONES[z.toLowerCase()] ?? 0;
    }
  }
  const t = Date.UTC(year, mon, day, h, min, sec) - offset * 60_000;
  return Number.isFinite(t) ? t : null;
}
