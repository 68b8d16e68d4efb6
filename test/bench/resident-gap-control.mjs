// Plain node control for test/bench/resident-gap.mjs: the same connection pattern as a resident worker
// session, no IMAP. Reports per request its time, minor GCs, GC ms, new-space size before it.
// Per connection, one fixed workload, answer, close. "flat": compute over preallocated
// memory (4 MB touched, little allocation); "alloc": ~3 MB of short-lived objects and strings per request.
import net from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
let minors = 0, gcMs = 0, others = 0;
new PerformanceObserver((l) => { for (const e of l.getEntries()) { if (e.detail.kind === 1) minors++; else others++; gcMs += e.duration; } }).observe({ entryTypes: ['gc'] });
const nsK = () => Math.round(getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size / 1024);
const big = new Float64Array(512 * 1024); // 4 MB
for (let i = 0; i < big.length; i++) big[i] = i;
function flat() {
  let s = 0;
  for (let r = 0; r < 6; r++) for (let i = 0; i < big.length; i += 1 + (r & 1)) s += big[i] * 1.0001;
  return String(s).length;
}
function alloc() {
  const rows = [];
  for (let f = 0; f < 2000; f++) rows.push({ name: `Folder${String(f).padStart(4, '0')}`, messages: f % 7, unseen: f % 3, flags: ['\\HasNoChildren'] });
  rows.sort((a, b) => (a.name < b.name ? 1 : -1));
  let out = '';
  for (const r of rows) out += `* LIST (${r.flags.join(' ')}) "/" ${r.name}\r\n* STATUS ${r.name} (MESSAGES ${r.messages} UNSEEN ${r.unseen})\r\n`;
  const parts = out.split('\r\n').map((l) => l.toUpperCase());
  return JSON.parse(JSON.stringify(parts)).length;
}
const srv = net.createServer((s) => {
  s.setNoDelay(true);
  s.once('data', (d) => {
    const w = d.toString().trim();
    const ns = nsK(); const m0 = minors, g0 = gcMs, o0 = others;
    const t0 = performance.now();
    const r = w === 'flat' ? flat() : alloc();
    const ms = performance.now() - t0;
    // GC entries are delivered asynchronously: report after a tick.
    setTimeout(() => s.end(`${ms.toFixed(3)} ${r} ${minors - m0} ${(gcMs - g0).toFixed(2)} ${ns} ${others - o0}\n`), 2);
  });
});
srv.listen(0, '127.0.0.1', () => process.stdout.write(`port ${srv.address().port}\n`));
