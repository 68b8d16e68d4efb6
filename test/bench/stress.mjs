// Random-command stress of several connections on ONE account (issue 11): what a desktop client with a
// few cached connections, a phone and a fetcher do to one mailbox at once. Each connection, until the
// time is up: connect, LOGIN, SELECT INBOX, then a random run of FETCH, UID FETCH, STORE, EXPUNGE,
// APPEND, NOOP, SELECT, and LOGOUT (or, sometimes, a hang-up without LOGOUT), and again.
//
// A protocol error is anything a correct server does not do to a correct client: a tagged NO or BAD, a
// BYE we did not ask for, a connection dropped in the middle of a command, no answer within the
// command timeout, or a FETCH that leaves out a message the session was told exists. The client keeps
// its own view of the mailbox from EXISTS/EXPUNGE (and VANISHED) and only names messages in it, as a
// real client does. Used by `npm run bench` (stress-5x20s, against ours and Dovecot) and by the
// acceptance test test/e2e/stress.test.ts (shorter, ours only).
import { openClient } from './client.mjs';
import { prng } from './prng.mjs';

const FLAGS = ['\\Seen', '\\Flagged', '\\Answered', '$Stress', 'Junk'];

function message(r, n) {
  const words = Array.from({ length: r.int(5, 60) }, () => r.pick(['alpha', 'beta', 'gamma', 'delta', 'mail', 'box', 'stress', 'the']));
  return `From: stress${n}@example.com\r\nTo: user@example.com\r\nSubject: stress ${n}\r\nMessage-ID: <stress-${n}-${r.int(0, 1e9)}@example.com>\r\nDate: Tue, 02 Jan 2024 03:04:05 +0000\r\n\r\n${words.join(' ')}\r\n`;
}

/**
 * Run the stress. Returns { logins, commands, errorCount, errors: the first 100 [{ conn, cmd, got }],
 * byCommand: {NAME: n} }.
 */
export async function stress({ port, user, pass, connections = 5, durationMs = 20_000, seed = 11, cmdTimeoutMs = 30_000, hangupChance = 0.15, maxMessages = 400 }) {
  const end = performance.now() + durationMs;
  const out = { logins: 0, commands: 0, errorCount: 0, errors: [], byCommand: {} };
  const error = (conn, cmd, got) => {
    out.errorCount++;
    if (out.errors.length < 100) out.errors.push({ conn, cmd: cmd.slice(0, 80), got: String(got).slice(0, 200) });
  };
  let appended = 0;

  async function worker(id) {
    const r = prng(seed * 1000 + id);
    while (performance.now() < end) {
      let client;
      try {
        ({ client } = await openClient(port, { timeoutMs: cmdTimeoutMs }));
      } catch (e) {
        error(id, 'connect', e.message);
        continue;
      }
      let exists = 0;
      let loggedOut = false;
      /** Run one command; false when the session can no longer be used. */
      const run = async (cmd) => {
        const name = cmd.split(' ').slice(0, cmd.startsWith('UID ') ? 2 : 1).join(' ');
        out.commands++;
        out.byCommand[name] = (out.byCommand[name] ?? 0) + 1;
        let res;
        try {
          res = await client.imap(cmd, { collect: true, ms: cmdTimeoutMs });
        } catch (e) {
          error(id, cmd, e.message);
          return null;
        }
        let fetched = 0;
        for (const l of res.lines) {
          let m;
          if ((m = /^\* (\d+) EXISTS/.exec(l))) exists = Number(m[1]);
          else if (/^\* \d+ EXPUNGE/.test(l)) exists--;
          else if ((m = /^\* VANISHED (?!\(EARLIER\))(\S+)/.exec(l))) {
            for (const part of m[1].split(',')) { const [a, b] = part.split(':').map(Number); exists -= b ? Math.abs(b - a) + 1 : 1; }
          } else if (/^\* \d+ FETCH /.test(l)) fetched++;
          else if (/^\* BYE/.test(l) && !loggedOut) error(id, cmd, l);
        }
        if (!res.ok) error(id, cmd, res.status);
        return { ...res, fetched };
      };
      try {
        const login = await run(`LOGIN ${user} ${pass}`);
        if (!login?.ok) { client.close(); continue; }
        out.logins++;
        if (!(await run('SELECT INBOX'))?.ok) { client.close(); continue; }
        const steps = r.int(1, 25);
        let alive = true;
        for (let s = 0; alive && s < steps && performance.now() < end; s++) {
          const op = r.pick(['fetch', 'fetch', 'uidfetch', 'store', 'store', 'expunge', 'append', 'append', 'noop', 'select']);
          const range = () => { const a = r.int(1, exists); const b = Math.min(exists, a + r.int(0, 20)); return a === b ? `${a}` : `${a}:${b}`; };
          let res = null;
          if (op === 'fetch' && exists > 0) {
            const set = range();
            const [a, b = a] = set.split(':').map(Number);
            res = await run(`FETCH ${set} ${r.pick(['(FLAGS UID)', '(UID RFC822.SIZE INTERNALDATE)', '(ENVELOPE)', '(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])', '(BODY.PEEK[])'])}`);
            // Every message the session was told of is answered for (RFC 2180 §4.1.2; Dovecot does).
            if (res?.ok && res.fetched < b - a + 1) error(id, `FETCH ${set}`, `${res.fetched} FETCH responses for ${b - a + 1} messages`);
          } else if (op === 'uidfetch') {
            res = await run('UID FETCH 1:* (FLAGS)');
          } else if (op === 'store' && exists > 0) {
            res = await run(`STORE ${range()} ${r.pick(['+FLAGS', '-FLAGS', '+FLAGS.SILENT'])} (${r.pick(FLAGS)})`);
          } else if (op === 'expunge' && exists > 0) {
            res = await run(`STORE ${r.int(1, exists)} +FLAGS.SILENT (\\Deleted)`);
            if (res) res = await run('EXPUNGE');
          } else if (op === 'append' || exists === 0) {
            if (exists < maxMessages) {
              const text = message(r, ++appended);
              res = await run(`APPEND INBOX ${r.chance(0.5) ? '(\\Seen) ' : ''}{${Buffer.byteLength(text)}+}\r\n${text}`);
            } else res = await run('NOOP');
          } else if (op === 'select') {
            exists = 0;
            res = await run('SELECT INBOX');
          } else {
            res = await run('NOOP');
          }
          if (!res) alive = false;
        }
        if (!alive) { client.close(); continue; }
        if (r.chance(hangupChance)) {
          client.close(); // gone without LOGOUT
          continue;
        }
        loggedOut = true;
        const bye = await run('LOGOUT');
        if (bye?.ok) await client.closed();
      } catch (e) {
        error(id, '(session)', e.message);
      } finally {
        client.close();
      }
    }
  }

  await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
  return out;
}
