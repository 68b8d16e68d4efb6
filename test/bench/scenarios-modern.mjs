// Bench rows of the "modern" helper (issue 14): COMPRESS=DEFLATE (RFC 4978). A session LOGIN, COMPRESS
// DEFLATE, SELECT, FETCH 1:* BODY.PEEK[] of the 10k mailbox, LOGOUT, over a small client of its own
// (raw DEFLATE both ways, literals skipped without copying), beside Dovecot with its imap_zlib plugin.
// Two rows: the FETCH time, and the bytes it took on the wire (compressed) against the bytes inflated.
import { connect } from 'node:net';
import { constants as zc, createDeflateRaw, createInflateRaw } from 'node:zlib';

const now = () => performance.now();

/** A raw IMAP session that can switch to DEFLATE. `wire` counts bytes received from the socket,
 *  `plain` the bytes of protocol they carried. */
function open(port, timeoutMs) {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: '127.0.0.1', noDelay: true });
    const st = { wire: 0, plain: 0 };
    let inf = null;
    let def = null;
    let partial = null;
    let litRem = 0;
    let waiter = null;
    let greeted = false;
    const lines = [];
    const onPlain = (chunk) => {
      st.plain += chunk.length;
      let pos = 0;
      while (pos < chunk.length) {
        if (litRem > 0) { const take = Math.min(litRem, chunk.length - pos); litRem -= take; pos += take; continue; }
        const nl = chunk.indexOf(10, pos);
        if (nl < 0) { partial = partial ? Buffer.concat([partial, chunk.subarray(pos)]) : Buffer.from(chunk.subarray(pos)); break; }
        const line = partial ? Buffer.concat([partial, chunk.subarray(pos, nl + 1)]) : chunk.subarray(pos, nl + 1);
        partial = null; pos = nl + 1;
        if (line.length > 4 && line[line.length - 3] === 0x7d) {
          const o = line.lastIndexOf(0x7b);
          const n = o >= 0 ? Number(line.subarray(o + 1, line.length - 3).toString('latin1').replace('+', '')) : NaN;
          if (Number.isFinite(n)) litRem = n;
        }
        const text = line.toString('latin1').trimEnd();
        if (!greeted) { greeted = true; resolve(client); continue; }
        if (waiter) waiter(text); else lines.push(text);
      }
    };
    sock.on('data', (d) => { st.wire += d.length; if (inf) inf.write(d); else onPlain(d); });
    sock.on('error', (e) => { if (!greeted) reject(e); waiter?.(null); });
    // What arrived before the close may still be in the inflater (it works asynchronously).
    sock.on('close', () => (inf && !inf.destroyed ? inf.flush(() => waiter?.(null)) : waiter?.(null)));
    let n = 0;
    const client = {
      st,
      /** Send a command, resolve at its tagged line with the time it took and the untagged count. */
      cmd(text) {
        const tag = `z${++n}`;
        const t0 = now();
        return new Promise((res, rej) => {
          let untagged = 0;
          const timer = setTimeout(() => { waiter = null; rej(new Error(`timeout on ${text.slice(0, 40)}`)); }, timeoutMs);
          waiter = (l) => {
            if (l === null) { clearTimeout(timer); waiter = null; return rej(new Error('connection closed')); }
            if (l.startsWith(`${tag} `)) { clearTimeout(timer); waiter = null; res({ ok: l.startsWith(`${tag} OK`), status: l, ms: now() - t0, untagged }); }
            else untagged++;
          };
          if (def) { def.write(`${tag} ${text}\r\n`); def.flush(zc.Z_SYNC_FLUSH); } else sock.write(`${tag} ${text}\r\n`);
        });
      },
      /** After the OK of COMPRESS: both directions deflated from here on. */
      compress() {
        inf = createInflateRaw({ chunkSize: 64 * 1024 });
        inf.on('data', onPlain);
        def = createDeflateRaw();
        def.on('data', (d) => sock.write(d));
      },
      close() { sock.destroy(); },
    };
  });
}

/** The rows, given what run.mjs knows: plan (corpora), U (users), PASS, account (server CPU/RSS), Skip,
 *  and the runs helpers. */
export function modernScenarios({ plan, U, PASS, account, Skip, heavy, cmdMs }) {
  /** LOGIN, COMPRESS, SELECT, FETCH 1:* BODY.PEEK[] of the 10k mailbox, LOGOUT; the FETCH's figures. */
  async function compressedFetch(t) {
    const acct = account(t.imap, t.kind);
    const c = await open(t.imap.port, cmdMs);
    try {
      const must = async (cmd) => { const r = await c.cmd(cmd); if (!r.ok) throw new Skip(`${cmd.split(' ')[0]} failed: ${r.status.slice(0, 100)}`); return r; };
      await must(`LOGIN ${U.warm} ${PASS(U.warm)}`);
      await must('COMPRESS DEFLATE');
      c.compress();
      await must('SELECT INBOX');
      const w0 = c.st.wire;
      const p0 = c.st.plain;
      const r = await must('FETCH 1:* BODY.PEEK[]');
      const wire = c.st.wire - w0;
      const plain = c.st.plain - p0;
      if (r.untagged < plan.medium.n) throw new Skip(`FETCH listed ${r.untagged} messages, want ${plan.medium.n}`);
      if (t.imap.treeCpuMs) acct.note(await t.imap.sample('imap'));
      await must('LOGOUT');
      const rec = await acct.end();
      return { ms: r.ms, wire, plain, cpuMs: rec.cpuMs, rssKB: rec.rssKB };
    } finally { c.close(); }
  }
  return [
    {
      id: 'compress-fetch-10k', title: `COMPRESS=DEFLATE FETCH 1:* BODY.PEEK[] ${plan.medium.label}: time`, unit: 'ms', lower: true, runs: heavy(3),
      who: ['ours', 'ours-resident', 'dovecot'],
      once: async (t) => {
        const s = await compressedFetch(t);
        return { value: s.ms, wallMs: s.ms, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { wireBytes: s.wire, plainBytes: s.plain } };
      },
      target: { text: '<= 1.5x dovecot', vs: 'dovecot', max: 1.5 },
    },
    {
      // Deterministic: one run. Both compress at zlib level 6 (Dovecot's imap_compress_deflate_level).
      id: 'compress-wire-10k', title: `COMPRESS=DEFLATE FETCH 1:* BODY.PEEK[] ${plan.medium.label}: MB on the wire`, unit: 'MB', lower: true, runs: 1, warmup: 0,
      who: ['ours', 'ours-resident', 'dovecot'],
      once: async (t) => {
        const s = await compressedFetch(t);
        return { value: s.wire / 1e6, wallMs: s.ms, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { wireBytes: s.wire, plainBytes: s.plain, ratio: s.wire / s.plain } };
      },
      target: { text: '<= 1.05x dovecot', vs: 'dovecot', max: 1.05 },
    },
  ];
}
