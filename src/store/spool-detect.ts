// Inspect an existing drop-file spool and score every hash scheme at levels 0-2 by how many drop files
// sit exactly where the scheme would put them (dmailctl spool detect).

import { readdirSync, lstatSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { HASH_SCHEMES } from './hash-schemes.js';

export interface SchemeScore {
  scheme: string;
  level: number;
  newHashing: boolean;
  matches: number;
}

export interface Detection {
  dir: string;
  files: number;
  /** Drop files per directory depth below DIR. */
  byDepth: Record<number, number>;
  scores: SchemeScore[];
  best: SchemeScore | null;
  samples: string[];
}

/** A drop file: a regular file that is not a lock, a temp file or our state. */
function isDropFile(name: string): boolean {
  return !name.startsWith('.') && !name.endsWith('.lock') && !/\.\w+\.\d+(\.\w+)?$/.test(name);
}

export function detectSpool(dir: string): Detection {
  const found: { rel: string[]; name: string }[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 2) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      let st;
      try { st = lstatSync(p); } catch { continue; }
      if (st.isDirectory()) {
        if (n.endsWith('.mbx') || n.endsWith('.mdir') || n.startsWith('.')) continue;
        walk(p, depth + 1);
      } else if (st.isFile() && isDropFile(n)) {
        const rel = relative(dir, d);
        found.push({ rel: rel ? rel.split(sep) : [], name: n });
      }
    }
  };
  walk(dir, 0);
  const byDepth: Record<number, number> = {};
  for (const f of found) byDepth[f.rel.length] = (byDepth[f.rel.length] ?? 0) + 1;
  const scores: SchemeScore[] = [];
  for (const scheme of HASH_SCHEMES.values()) {
    for (const level of [0, 1, 2]) {
      for (const newHashing of level && scheme.name === 'chars' ? [true, false] : [true]) {
        let matches = 0;
        for (const f of found) {
          const want = scheme.dirs(f.name, level, { imapd_enable_new_hashing: newHashing }).map((c) => c.toLowerCase()).filter((c) => c !== '.');
          if (want.length === f.rel.length && want.every((c, i) => c === f.rel[i])) matches++;
        }
        if (level === 0 && scheme.name !== 'chars') continue;
        scores.push({ scheme: level === 0 ? '(none)' : scheme.name, level, newHashing, matches });
      }
    }
  }
  scores.sort((a, b) => b.matches - a.matches || a.level - b.level);
  const best = scores[0] && scores[0].matches > 0 ? scores[0] : null;
  return { dir, files: found.length, byDepth, scores, best, samples: found.slice(0, 5).map((f) => [...f.rel, f.name].join('/')) };
}

export function formatDetection(r: Detection): string {
  const lines = [`spool ${r.dir}: ${r.files} drop files`];
  for (const [d, n] of Object.entries(r.byDepth)) lines.push(`  depth ${d}: ${n} files`);
  if (r.samples.length) lines.push(`  e.g. ${r.samples.join(', ')}`);
  lines.push('scheme            level  new_hashing  matching files');
  for (const s of r.scores.filter((x) => x.matches > 0 || x.level > 0).slice(0, 8)) {
    lines.push(`  ${s.scheme.padEnd(16)}${String(s.level).padEnd(7)}${String(s.newHashing).padEnd(13)}${s.matches}/${r.files}`);
  }
  if (r.best) {
    lines.push(`best: hash_spool ${r.best.level}${r.best.level ? `, hash_scheme ${r.best.scheme}` : ''}${r.best.newHashing ? '' : ', imapd_enable_new_hashing false'} (${r.best.matches}/${r.files} files)`);
    if (r.best.matches < r.files) lines.push('warning: some drop files do not follow the best scheme; check them before switching');
  } else lines.push('no scheme places these files; is this a drop_path directory?');
  return lines.join('\n') + '\n';
}
