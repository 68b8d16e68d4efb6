// Reads dmail.conf (and the files it #includes) into typed Settings.
// Rules: dmail-reference.md §1 and Decisions §12. Runs on every connection, so it is one linear pass over
// each file with no backtracking regexes; bad input produces messages, never an exception (except a main
// file that cannot be read at all, which is a ConfigError). Files are read as latin1 so every byte of an
// old DMail config survives unchanged (one character per byte, as on the wire).

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SETTINGS, settingSpec, type Program, type Settings } from './settings.js';
import { parseValue } from './values.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadedConfig {
  settings: Settings;
  /** Unknown settings, repeated single-valued settings: the file still works. */
  warnings: string[];
  /** Bad values, unreadable includes, include cycles: the line is ignored and the default stays. */
  errors: string[];
  /** Every file actually read, main file first. */
  files: string[];
}

/** Nesting limit for dpop/dmailctl, which follow every #include; a guard against runaway chains. */
const MAX_INCLUDE_DEPTH = 16;

export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SETTINGS)) {
    out[name] = Array.isArray(spec.def) ? [...(spec.def as unknown[])] : spec.def;
  }
  return out as Settings;
}

interface State {
  program: Program;
  settings: Record<string, unknown>;
  /** Where each single-valued setting was last set, for the "repeated" warning. */
  setAt: Map<string, string>;
  /** Multi-valued settings already given in the file (their first line replaces the default). */
  multiSeen: Set<string>;
  warnings: string[];
  errors: string[];
  files: string[];
}

export function loadConfig(path: string, program: Program): LoadedConfig {
  const main = resolve(path);
  let text: string;
  try {
    text = readFileSync(main, 'latin1');
  } catch (e) {
    throw new ConfigError(`cannot read configuration file ${main}: ${describeFsError(e)}`);
  }
  const st: State = {
    program,
    settings: defaultSettings() as unknown as Record<string, unknown>,
    setAt: new Map(),
    multiSeen: new Set(),
    warnings: [],
    errors: [],
    files: [],
  };
  readText(st, main, text, [main]);
  return { settings: st.settings as unknown as Settings, warnings: st.warnings, errors: st.errors, files: st.files };
}

function readText(st: State, file: string, text: string, chain: string[]): void {
  st.files.push(file);
  const depth = chain.length - 1;
  let lineNo = 0;
  let start = 0;
  const len = text.length;
  while (start <= len) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = len;
    lineNo++;
    const line = text.slice(start, end).trim(); // trim() also drops a CR of CRLF files
    start = end + 1;
    if (line === '') continue;
    const where = `${file}:${lineNo}`;
    if (line.charCodeAt(0) === 35 /* # */) {
      directive(st, line, where, file, depth, chain);
      continue;
    }
    const ws = firstSpace(line);
    const name = (ws < 0 ? line : line.slice(0, ws)).toLowerCase();
    const raw = ws < 0 ? '' : line.slice(ws + 1);
    setting(st, name, raw, where);
  }
}

/** What a dmail.conf setting name looks like (letters, digits, underscores; not too long). */
const SETTING_NAME = /^[a-z][a-z0-9_]{0,63}$/;

function firstSpace(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9) return i;
  }
  return -1;
}

function setting(st: State, name: string, raw: string, where: string): void {
  const spec = settingSpec(name);
  if (!spec) {
    // Never the value, and the name only when it looks like one: an `#include /etc/shadow` (or any file
    // that is not a config) must not copy its lines into a log that others may read.
    st.warnings.push(SETTING_NAME.test(name)
      ? `unknown setting ${name} at ${where}; line ignored`
      : `a line that is not a setting at ${where} (contents not shown); line ignored`);
    return;
  }
  const parsed = parseValue(spec, raw);
  if (!parsed.ok) {
    st.errors.push(`${where}: bad value for ${name}: ${parsed.error}; line ignored`);
    return;
  }
  if (spec.multi) {
    if (!st.multiSeen.has(name)) {
      st.multiSeen.add(name);
      st.settings[name] = [];
    }
    // One by one: push(...list) passes every value as an argument and a line of 130,000 values would
    // overflow the stack.
    const list = st.settings[name] as string[];
    for (const v of parsed.value as string[]) list.push(v);
    return;
  }
  const before = st.setAt.get(name);
  if (before) st.warnings.push(`${where}: ${name} repeated (also set at ${before}); the last one is used`);
  st.setAt.set(name, where);
  st.settings[name] = parsed.value;
}

function directive(st: State, line: string, where: string, file: string, depth: number, chain: string[]): void {
  const ws = firstSpace(line);
  const word = (ws < 0 ? line : line.slice(0, ws)).toLowerCase();
  let follow: boolean;
  if (word === '#include') {
    // IMAPD skips #include unless imapd_include_level (as read so far) reaches this depth (§1.3).
    follow = st.program === 'imapd' ? depth < (st.settings.imapd_include_level as number) : true;
  } else if (word === '#imapd_include') {
    // DPOP and DSMTP treat #imapd_include as an ordinary comment.
    follow = st.program === 'imapd' && depth < (st.settings.imapd_include_level as number);
  } else {
    return; // a comment
  }
  if (!follow) return;
  const target = unquote(ws < 0 ? '' : line.slice(ws + 1).trim());
  if (target === '') {
    st.errors.push(`${where}: ${word} without a file name`);
    return;
  }
  const path = resolve(dirname(file), target);
  if (chain.includes(path)) {
    st.errors.push(`${where}: include cycle: ${[...chain, path].join(' -> ')}`);
    return;
  }
  if (chain.length > MAX_INCLUDE_DEPTH) {
    st.errors.push(`${where}: includes nested deeper than ${MAX_INCLUDE_DEPTH} levels; ${path} not read`);
    return;
  }
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    st.errors.push(`${where}: cannot read included file ${path}: ${describeFsError(e)}`);
    return;
  }
  readText(st, path, text, [...chain, path]);
}

function unquote(s: string): string {
  if (s.length >= 2) {
    const a = s[0];
    const b = s[s.length - 1];
    if ((a === '"' && b === '"') || (a === "'" && b === "'") || (a === '<' && b === '>')) return s.slice(1, -1).trim();
  }
  return s;
}

export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    default: return err?.code ?? String(e);
  }
}
