// The streaming meter must agree exactly with the whole-message functions (clientView, statusOf) no
// matter how the bytes are cut into pieces: RFC822.SIZE is sent as an IMAP literal length.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageMeter } from '../../src/store/mbox/meter.js';
import { clientView, layoutOf, statusOf, parseFromLine, storedForm } from '../../src/store/mbox/format.js';
import { fnv1a } from '../../src/store/mbox/parse.js';

function reference(raw: Buffer) {
  const layout = layoutOf(raw);
  const fromEnd = layout.fromEnd - (raw[layout.fromEnd - 1] === 0x0a ? 1 : 0);
  const d = parseFromLine(raw, 0, fromEnd);
  return {
    size: clientView(raw, layout).length,
    date: d ? d.getTime() : 0,
    status: statusOf(raw, layout),
    key: fnv1a(raw, 0, Math.min(raw.length, 512)),
  };
}

/** Feed `raw` cut at the given piece sizes (cycled). */
function metered(raw: Buffer, pieces: number[]) {
  const m = new MessageMeter();
  let pos = 0;
  for (let k = 0; pos < raw.length; k++) {
    const n = pieces[k % pieces.length]!;
    m.feed(raw, pos, Math.min(raw.length, pos + n));
    pos += n;
  }
  return m.finish();
}

// Deterministic pseudo-random piece sizes (no flaky seeds).
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s; };
}

const F = 'From bob@example.com Sat Dec 26 09:37:48 1998';
const tricky: string[] = [
  `${F}\nSubject: hi\n\nbody\n\n`,
  `${F}\r\nSubject: hi\r\nStatus: RO\r\nX-Status: AF\r\nX-Keywords: a b\r\nX-UID: 7\r\n\r\nbody\r\n\r\n`,
  `${F}\nX-IMAPbase: 1700000000 0000000042 kw1 kw2\nX-UID: 3\nSubject: x\n\n>From quoted\n>>From twice\n>Fromage\n\n\n\n`,
  `${F}\nSubject: no body`,
  `${F}\nSubject: header only\n`,
  `${F}\nSubject: blank end\n\n`,
  `${F}\n`,
  F,
  `${F}\nStatus: R\n  continued O\nmalformed line without colon\nX-UIDL: abc123\n\nb\r\nc\rd\n\r\n`,
  `malformed first\nSubject: y\n\n`,
  `From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nFrom: Mail System Internal Data <MAILER-DAEMON@x>\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1700000000 0000000009 a\n\nThis text is part of the internal format\n\n`,
  `${F}\nSubject: long\n  ${'w'.repeat(70_000)}\nX-Status: ${'D'.repeat(3000)}\n\n${'>'.repeat(5000)}From deep quote\n${'z'.repeat(3_000_000)}\nend\n\n`,
  `${F}\nContent-Length: 5\n\n\n\n\nlast\n\n\n`,
  `${F}\n\n`,
  `${F}\n\r\n\r\n`,
];

describe('MessageMeter', () => {
  it('matches clientView/statusOf for tricky messages at every cut', () => {
    for (const t of tricky) {
      const raw = Buffer.from(t, 'latin1');
      const want = reference(raw);
      const cuts = raw.length < 2000 ? [[1], [2], [3], [7], [64], [raw.length]] : [[4096], [65_536], [1_048_576], [raw.length]];
      for (const c of cuts) expect({ t: t.slice(0, 60), c, ...metered(raw, c) }).toEqual({ t: t.slice(0, 60), c, ...want });
    }
  });

  it('matches for every corpus message stored by APPEND, cut at random places', () => {
    const dir = '/work/shared/corpus/messages';
    const rnd = lcg(42);
    let n = 0;
    for (const f of readdirSync(dir)) {
      const msg = readFileSync(join(dir, f));
      const stored = storedForm(msg, new Date('2024-01-02T03:04:05Z'), { flags: 1, keywords: ['k'], uid: 5 }, null);
      // Also the message as an MDA writes it: raw bytes after a From line (CRLF, odd headers and all).
      const asDelivered = Buffer.concat([Buffer.from(`${F}\n`), msg, Buffer.from('\n')]);
      for (const raw of [stored, asDelivered]) {
        const pieces = Array.from({ length: 8 }, () => 1 + (rnd() % 300));
        expect(metered(raw, pieces)).toEqual(reference(raw));
        n++;
      }
    }
    expect(n).toBeGreaterThan(100);
  });
});
