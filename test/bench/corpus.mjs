// Deterministic benchmark corpora: mbox drop files of realistic messages (varied sizes, headers as an
// MTA leaves them, some multipart with base64 attachments, a rare word in a few), plus one mailbox
// holding a message with a 50 MB base64 attachment. Written once under .bench/corpus and reused while
// the manifest (version + sizes) matches.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from './prng.mjs';

export const CORPUS_VERSION = 2;
export const RARE_WORD = 'quixotryzzle';

const WORDS = ('the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if more will so no what up out about who into them can only ' +
  'other time new some could these two may first then do any like my now over such our man me even most made after also did ' +
  'many before must through back years where much your way well down should because each just those people how too little ' +
  'state good very make world still own see men work long get here between both life being under never day same another know ' +
  'while last might us great old year off come since against go came right used take three invoice meeting quarterly report ' +
  'schedule project budget server backup deadline attached review please thanks regards customer order shipment delivery ' +
  'account password reset newsletter conference agenda minutes draft proposal contract signed update release version patch ' +
  'kernel network outage maintenance window ticket support billing payment receipt confirm subscription weekend holiday ' +
  'family photos dinner tomorrow morning afternoon evening office remote team manager director engineering marketing sales').split(' ');
const FIRST = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy', 'Mallory', 'Niaj', 'Olivia', 'Peggy', 'Rupert', 'Sybil', 'Trent', 'Victor', 'Walter', 'Yusuf', 'Zoe', 'Hannah', 'Lukas', 'Marta'];
const LAST = ['Smith', 'Jones', 'Brown', 'Taylor', 'Wilson', 'Davies', 'Evans', 'Thomas', 'Johnson', 'Roberts', 'Walker', 'Wright', 'Muller', 'Schmidt', 'Novak', 'Rossi', 'Garcia', 'Martin', 'Bernard', 'Dubois'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.co.uk', 'lists.example.org', 'corp.example.com', 'shop.example.net'];
const MAILERS = ['Mozilla Thunderbird 115.3', 'Microsoft Outlook 16.0', 'Apple Mail (2.3731)', 'Mutt/2.2.9', 'Roundcube Webmail/1.6', 'Evolution 3.46'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n) => String(n).padStart(2, '0');

export function fromLineDate(d) {
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}
const rfc2822 = (d) =>
  `${DAYS[d.getUTCDay()]}, ${p2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;

/** Shared text and base64 pools: composing bodies from pools keeps generation of ~1 GB fast. */
function pools() {
  const r = prng(7);
  const paragraphs = [];
  for (let i = 0; i < 600; i++) {
    const words = r.int(30, 160);
    let line = '';
    const lines = [];
    // A body line starting with "From " must be quoted in an mbox (mboxrd); keep a few to exercise it.
    if (i % 97 === 0) line = 'From what I remember';
    for (let w = 0; w < words; w++) {
      const word = r.pick(WORDS);
      if (line.length + word.length + 1 > 72) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line + '.');
    paragraphs.push(lines.map((l) => (/^>*From /.test(l) ? '>' + l : l)).join('\n') + '\n\n');
  }
  const bin = Buffer.alloc(192 * 1024);
  for (let i = 0; i < bin.length; i++) bin[i] = Math.floor(r.next() * 256);
  const b64 = bin.toString('base64');
  const b64lines = [];
  for (let i = 0; i + 76 <= b64.length; i += 76) b64lines.push(b64.slice(i, i + 76) + '\n');
  return { paragraphs, b64lines };
}

/** Sizes skew small, as in real mailboxes: 70% 1-8 KB, 25% 8-30 KB, 5% 30-50 KB. */
function targetSize(r) {
  const x = r.next();
  if (x < 0.7) return r.int(1024, 8 * 1024);
  if (x < 0.95) return r.int(8 * 1024, 30 * 1024);
  return r.int(30 * 1024, 50 * 1024);
}

function person(r) {
  const f = r.pick(FIRST), l = r.pick(LAST);
  return { name: `${f} ${l}`, addr: `${f.toLowerCase()}.${l.toLowerCase()}@${r.pick(DOMAINS)}` };
}

function textBody(r, P, bytes, rare) {
  let out = '';
  if (rare) out += `Note the code word ${RARE_WORD} before the meeting.\n\n`;
  while (out.length < bytes) out += r.pick(P.paragraphs);
  return out;
}

function b64Body(r, P, bytes) {
  let out = '';
  let i = r.int(0, P.b64lines.length - 1);
  while (out.length < bytes) { out += P.b64lines[i]; i = (i + 1) % P.b64lines.length; }
  return out;
}

/** One message (as stored: LF line endings, body already mboxrd-quoted) plus its `From ` line. */
function message(r, P, i, date, rcpt, opts = {}) {
  const from = person(r);
  const size = opts.size ?? targetSize(r);
  const id = `<${date.getTime().toString(36)}.${i}.${r.int(1e5, 9e5)}@${from.addr.split('@')[1]}>`;
  const subj = opts.subject ?? `${r.pick(['Re: ', 'Fwd: ', '', '', ''])}${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)} #${i}`;
  const hdr = [
    `Return-Path: <${from.addr}>`,
    `Received: from mx${r.int(1, 9)}.${from.addr.split('@')[1]} (mx.${from.addr.split('@')[1]} [192.0.2.${r.int(1, 254)}])\n\tby mail.example.com (Postfix) with ESMTPS id ${r.int(1e8, 9e8).toString(16).toUpperCase()}\n\tfor <${rcpt}>; ${rfc2822(date)}`,
    `Received: from [10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}] by mx.${from.addr.split('@')[1]} with ESMTPSA; ${rfc2822(new Date(date.getTime() - 2000))}`,
    `From: "${from.name}" <${from.addr}>`,
    `To: ${rcpt}`,
  ];
  if (r.chance(0.3)) hdr.push(`Cc: ${person(r).addr}, ${person(r).addr}`);
  hdr.push(`Subject: ${subj}`, `Date: ${rfc2822(date)}`, `Message-ID: ${id}`);
  if (r.chance(0.4)) hdr.push(`In-Reply-To: <${r.int(1e6, 9e6)}@${r.pick(DOMAINS)}>`);
  hdr.push(`X-Mailer: ${r.pick(MAILERS)}`, 'MIME-Version: 1.0');
  const kind = opts.attachmentBytes ? 'mixed' : (() => { const x = r.next(); return x < 0.6 ? 'plain' : x < 0.85 ? 'alternative' : 'mixed'; })();
  const headerBytes = hdr.join('\n').length + 200;
  const room = Math.max(200, size - headerBytes);
  let body;
  if (kind === 'plain') {
    hdr.push('Content-Type: text/plain; charset="utf-8"', 'Content-Transfer-Encoding: 7bit');
    body = textBody(r, P, room, opts.rare);
  } else {
    const b = `----=_Part_${i}_${r.int(1e6, 9e6)}`;
    hdr.push(`Content-Type: multipart/${kind}; boundary="${b}"`);
    let parts;
    if (kind === 'alternative') {
      const t = textBody(r, P, Math.floor(room / 3), opts.rare);
      const html = '<html><body>\n' + textBody(r, P, Math.floor(room * 2 / 3) - 30, false).replace(/\n\n/g, '\n<p>\n') + '</body></html>\n';
      parts = [`Content-Type: text/plain; charset="utf-8"\n\n${t}`, `Content-Type: text/html; charset="utf-8"\n\n${html}`];
    } else {
      const att = opts.attachmentBytes ?? Math.floor(room * 0.7);
      const t = textBody(r, P, Math.max(200, room - att), opts.rare);
      const fname = `${r.pick(['report', 'scan', 'photo', 'invoice', 'slides'])}-${i}.${r.pick(['pdf', 'jpg', 'png', 'zip'])}`;
      parts = [`Content-Type: text/plain; charset="utf-8"\n\n${t}`,
        `Content-Type: application/octet-stream; name="${fname}"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="${fname}"\n\n${b64Body(r, P, att)}`];
    }
    body = 'This is a multi-part message in MIME format.\n\n' + parts.map((p) => `--${b}\n${p}\n`).join('') + `--${b}--\n`;
  }
  // Old mail in a long-lived spool has usually been read already: the MUA left Status/X-Status.
  if (r.chance(0.5)) hdr.push(r.chance(0.2) ? 'Status: RO\nX-Status: A' : 'Status: RO');
  return `From ${from.addr} ${fromLineDate(date)}\n${hdr.join('\n')}\n\n${body}\n`;
}

/** Write an mbox of n messages to path (atomically: temp name then rename). */
export function writeMbox(path, n, seed, rcpt, { rareAt = [], big } = {}) {
  const P = pools();
  const r = prng(seed);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  let chunk = [];
  let pending = 0;
  const flush = () => { writeSync(fd, chunk.join(''), null, 'latin1'); chunk = []; pending = 0; };
  let t = Date.UTC(2019, 0, 1);
  const rare = new Set(rareAt);
  for (let i = 0; i < n; i++) {
    t += r.int(60, 3 * 3600) * 1000;
    const opts = { rare: rare.has(i) };
    if (big && i === big.at) Object.assign(opts, { attachmentBytes: big.bytes, subject: 'The big attachment', size: big.bytes + 4096 });
    const m = message(r, P, i, new Date(t), rcpt, opts);
    chunk.push(m);
    pending += m.length;
    if (pending > 8 * 1024 * 1024) flush();
  }
  flush();
  closeSync(fd);
  renameSync(tmp, path);
}

/** The corpus plan. quick: CI-sized (small spools, 5 MB attachment). */
export function corpusPlan(quick) {
  const k = (n) => (n >= 1000 ? `${n / 1000}k` : String(n));
  const small = quick ? 200 : 1000, medium = quick ? 2000 : 10000, large = quick ? 10000 : 100000;
  const bigMB = quick ? 5 : 50;
  return {
    quick,
    small: { n: small, label: k(small), file: `mbox-${k(small)}` },
    medium: { n: medium, label: k(medium), file: `mbox-${k(medium)}` },
    large: { n: large, label: k(large), file: `mbox-${k(large)}` },
    big: { n: 5, at: 3, bytes: bigMB * 1024 * 1024, label: `${bigMB} MB`, file: `mbox-big${bigMB}` },
  };
}

/** Generate whatever is missing or stale under dir; returns absolute paths and facts per corpus. */
export function ensureCorpora(dir, plan, log = () => {}) {
  mkdirSync(dir, { recursive: true });
  const out = {};
  for (const key of ['small', 'medium', 'large', 'big']) {
    const c = plan[key];
    const path = join(dir, c.file);
    const manifest = `${path}.json`;
    const want = { version: CORPUS_VERSION, n: c.n, bytes: c.bytes ?? null };
    let ok = false;
    if (existsSync(path) && existsSync(manifest)) {
      try {
        const m = JSON.parse(readFileSync(manifest, 'utf8'));
        ok = m.version === want.version && m.n === want.n && m.bytes === want.bytes && m.size === statSync(path).size;
      } catch { ok = false; }
    }
    const rareAt = key === 'big' ? [] : [Math.floor(c.n * 0.37), Math.floor(c.n * 0.81), c.n - 5];
    if (!ok) {
      const t0 = Date.now();
      log(`generating ${c.file} (${c.n} messages) ...`);
      writeMbox(path, c.n, 1000 + c.n, 'user@example.com', key === 'big' ? { big: { at: c.at, bytes: c.bytes } } : { rareAt });
      writeFileSync(manifest, JSON.stringify({ ...want, size: statSync(path).size, rareAt }));
      log(`  ${c.file}: ${(statSync(path).size / 1e6).toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    out[key] = { ...c, path, size: statSync(path).size, rareAt: key === 'big' ? [] : rareAt.map((i) => i + 1) };
  }
  return out;
}
