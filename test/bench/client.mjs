// A small raw-socket IMAP/POP3 client for the benchmark. It parses only what it must (lines, IMAP
// literals, POP3 dot-termination), never copies literal bytes and keeps no more than one partial line,
// so client cost stays far below server cost and a 50 MB literal needs no client memory.
import { connect } from 'node:net';

const now = () => performance.now();

export function openClient(port, { host = '127.0.0.1', timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const sock = connect({ port, host, noDelay: true });
    let partial = null;
    let litRem = 0;
    let waiter = null; // { onLine(lineBuf), onBytes(n) }
    let closed = false;
    let bytesIn = 0;
    const queue = []; // lines that arrived while nobody waited (e.g. the greeting)
    let greeted = false;

    const deliver = (line) => {
      if (waiter) waiter.onLine(line); else queue.push(Buffer.from(line));
    };
    sock.on('data', (chunk) => {
      bytesIn += chunk.length;
      let pos = 0;
      while (pos < chunk.length) {
        if (litRem > 0) {
          const take = Math.min(litRem, chunk.length - pos);
          litRem -= take; pos += take;
          waiter?.onBytes?.(take);
          continue;
        }
        const nl = chunk.indexOf(10, pos);
        if (nl < 0) { partial = partial ? Buffer.concat([partial, chunk.subarray(pos)]) : Buffer.from(chunk.subarray(pos)); break; }
        const line = partial ? Buffer.concat([partial, chunk.subarray(pos, nl + 1)]) : chunk.subarray(pos, nl + 1);
        partial = null; pos = nl + 1;
        // An IMAP literal announced at the end of a line: skip its bytes without parsing them.
        if (client.mode === 'imap' && line.length > 4 && line[line.length - 3] === 0x7d /* } */) {
          const open = line.lastIndexOf(0x7b /* { */);
          const n = open >= 0 ? Number(line.subarray(open + 1, line.length - 3).toString('latin1').replace('+', '')) : NaN;
          if (Number.isFinite(n)) litRem = n;
        }
        deliver(line);
      }
    });
    const fail = (err) => { closed = true; waiter?.onClose?.(err); if (!greeted) reject(err); };
    sock.on('error', (e) => fail(e));
    sock.on('close', () => fail(new Error('connection closed by server')));

    const nextLine = (ms) => new Promise((res, rej) => {
      if (queue.length) return res(queue.shift());
      if (closed) return rej(new Error('connection closed'));
      const timer = setTimeout(() => { waiter = null; rej(new Error('timeout waiting for server')); }, ms);
      waiter = {
        onLine: (l) => { clearTimeout(timer); waiter = null; res(Buffer.from(l)); },
        onClose: (e) => { clearTimeout(timer); waiter = null; rej(e); },
      };
    });

    let tagN = 0;
    const client = {
      mode: 'imap',
      socket: sock,
      bytesIn: () => bytesIn,
      /** Send an IMAP command; resolves at its tagged response. */
      imap(cmd, { collect = false, ms = timeoutMs } = {}) {
        const tag = `b${++tagN}`;
        const tagB = Buffer.from(tag + ' ');
        return new Promise((res, rej) => {
          const t = now();
          let untagged = 0, bytes = 0;
          const lines = [];
          const timer = setTimeout(() => { waiter = null; rej(new Error(`timeout on ${cmd.slice(0, 60)}`)); }, ms);
          const onLine = (l) => {
            bytes += l.length;
            if (l.length >= tagB.length && l.subarray(0, tagB.length).equals(tagB)) {
              clearTimeout(timer); waiter = null;
              const status = l.toString('latin1').trimEnd();
              res({ ms: now() - t, ok: status.startsWith(`${tag} OK`), status, untagged, bytes, lines });
            } else { untagged++; if (collect) lines.push(l.toString('latin1').trimEnd()); }
          };
          waiter = { onLine, onBytes: (n) => { bytes += n; }, onClose: (e) => { clearTimeout(timer); waiter = null; rej(e); } };
          while (queue.length && waiter) onLine(queue.shift());
          sock.write(`${tag} ${cmd}\r\n`);
        });
      },
      /** Send a POP3 command; multi: read the dot-terminated body after +OK. */
      pop(cmd, { multi = false, collect = false, ms = timeoutMs } = {}) {
        return new Promise((res, rej) => {
          const t = now();
          let first = null, bytes = 0, count = 0;
          const lines = [];
          const timer = setTimeout(() => { waiter = null; rej(new Error(`timeout on ${cmd.split(' ')[0]}`)); }, ms);
          const done = () => { clearTimeout(timer); waiter = null; res({ ms: now() - t, ok: first.startsWith('+OK'), status: first, lines: count, bytes, body: lines }); };
          const onLine = (l) => {
            bytes += l.length;
            if (first === null) { first = l.toString('latin1').trimEnd(); if (!multi || !first.startsWith('+OK')) done(); return; }
            if (l.length === 3 && l[0] === 0x2e && l[1] === 13) return done();
            count++;
            if (collect) lines.push(l.toString('latin1').trimEnd());
          };
          waiter = { onLine, onClose: (e) => { clearTimeout(timer); waiter = null; rej(e); } };
          while (queue.length && waiter) onLine(queue.shift());
          sock.write(`${cmd}\r\n`);
        });
      },
      /** Start IDLE; resolves once the continuation arrived. `until(re)` resolves with the first untagged
       *  line matching re (and when it came, performance.now()); `done()` sends DONE and reads the tag. */
      async startIdle(ms = timeoutMs) {
        const tag = `b${++tagN}`;
        sock.write(`${tag} IDLE\r\n`);
        for (;;) {
          const l = (await nextLine(ms)).toString('latin1');
          if (l.startsWith('+')) break;
          if (l.startsWith(`${tag} `)) throw new Error(`IDLE refused: ${l.trimEnd()}`);
        }
        return {
          async until(re, ms2 = ms) {
            for (;;) {
              const l = (await nextLine(ms2)).toString('latin1').trimEnd();
              if (re.test(l)) return { line: l, at: now() };
            }
          },
          async done() {
            sock.write('DONE\r\n');
            for (;;) {
              const l = (await nextLine(ms)).toString('latin1').trimEnd();
              if (l.startsWith(`${tag} `)) return l;
            }
          },
        };
      },
      close() { sock.destroy(); },
      /** Resolves when the server has closed the connection (after LOGOUT/QUIT). */
      closed: () => new Promise((res) => { if (closed || sock.destroyed) res(); else sock.once('close', () => res()); }),
    };
    nextLine(timeoutMs).then((g) => {
      greeted = true;
      resolve({ client, greeting: g.toString('latin1').trimEnd(), greetingMs: now() - t0 });
    }, reject);
  });
}
