// Bench rows of the "fetchapp" helper (issue 14): MULTIAPPEND (RFC 3502) of 100 messages in one APPEND
// command (LITERAL+), into a folder created for the run and deleted after it, beside Dovecot. The
// figure is the APPEND command's time; both servers must answer APPENDUID with 100 consecutive UIDs.

/** 100 messages of about 2 KB, different from run to run (no server can dedupe them). */
function messages(run) {
  const para = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\r\n';
  return Array.from({ length: 100 }, (_, i) => {
    const text = `From: bench@example.com\r\nTo: user@example.com\r\nSubject: multiappend ${run}-${i}\r\n`
      + `Message-ID: <ma-${run}-${i}-${process.pid}@bench>\r\nDate: Tue, 02 Jan 2024 03:04:05 +0000\r\n\r\n${para.repeat(22)}`;
    return text;
  });
}

/** The rows, given what run.mjs knows: U (users), Skip, the runs helper and the session helpers. */
export function appendScenarios({ U, Skip, light, imapSession, ok }) {
  let run = 0;
  return [
    {
      id: 'multiappend-100', title: 'MULTIAPPEND 100 messages (~2 KB) in one APPEND (LITERAL+)', unit: 'ms', lower: true, runs: light(5),
      who: ['ours', 'ours-resident', 'dovecot'],
      once: async (t) => {
        const n = ++run;
        const box = `MultiAppend${process.pid}x${n}`;
        const msgs = messages(n);
        const bytes = msgs.reduce((a, m) => a + Buffer.byteLength(m), 0);
        let status = '';
        const s = await imapSession(t, U.warm, async (c, ms) => {
          await ok(c, `CREATE ${box}`, ms, 'create');
          try {
            const r = await ok(c, `APPEND ${box} ${msgs.map((m) => `{${Buffer.byteLength(m)}+}\r\n${m}`).join(' ')}`, ms, 'append');
            status = r.status;
          } finally {
            await ok(c, `DELETE ${box}`, ms, 'delete');
          }
        });
        const uids = /APPENDUID \d+ (\d+):(\d+)\]/.exec(status);
        if (!uids || Number(uids[2]) - Number(uids[1]) !== 99) throw new Skip(`APPEND answered ${status.slice(0, 100)}`);
        return { value: s.ms.append, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { bytes, perMessageMs: s.ms.append / 100 } };
      },
    },
  ];
}
