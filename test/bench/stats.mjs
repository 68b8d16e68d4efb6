// Medians, ranges and the printed table.
export function summary(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

export function fmtNum(x, unit) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const d = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return `${x.toFixed(d)}${unit ? ' ' + unit : ''}`;
}

export function fmtSummary(s, unit) {
  if (!s) return null;
  return `${fmtNum(s.median, unit)} (${fmtNum(s.min)}-${fmtNum(s.max)})`;
}

export function table(headers, rows) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => String(c ?? '').padEnd(w[i])).join(' | ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('-|-'), ...rows.map(line)].join('\n');
}
