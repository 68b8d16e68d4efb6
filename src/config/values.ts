// Turns the text of one dmail.conf value into the typed value its registry kind asks for.
// Kept apart from the file reader so the rules for each kind live in one place (Decisions §12).

import type { SettingSpec } from './settings.js';
import { SYSLOG_FACILITIES } from '../log/syslog.js';

export type ParsedValue = string | number | boolean | string[];
export type ValueResult = { ok: true; value: ParsedValue } | { ok: false; error: string };

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

export function parseBool(text: string): boolean | undefined {
  const t = text.toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  return undefined;
}

const INT = /^\+?\d{1,15}$/;
const FLOAT = /^\+?(\d{1,15}(\.\d{0,9})?|\.\d{1,9})$/;

const LOG_LEVELS = ['error', 'info', 'debug'] as const;
const AUTH_METHODS = ['unix_user', 'external', 'nt_user'] as const;
const LOG_TO = ['file', 'syslog', 'both'] as const;

/** A word from a fixed list, case-insensitively. */
function oneOf(text: string, words: readonly string[]): ValueResult {
  const lower = text.toLowerCase();
  return words.includes(lower) ? { ok: true, value: lower } : { ok: false, error: `"${text}" is not one of ${words.join(', ')}` };
}

/** Parse one value. For list kinds the result is the items this line contributes. */
export function parseValue(spec: SettingSpec, raw: string): ValueResult {
  const text = raw.trim();
  if (text === '') return { ok: false, error: 'missing value' };
  switch (spec.kind) {
    case 'string':
    case 'path':
      return { ok: true, value: text };
    case 'int':
      return INT.test(text) ? { ok: true, value: Number(text) } : { ok: false, error: `"${text}" is not a whole number` };
    case 'float':
      return FLOAT.test(text) ? { ok: true, value: Number(text) } : { ok: false, error: `"${text}" is not a number` };
    case 'bool': {
      const b = parseBool(text);
      return b === undefined ? { ok: false, error: `"${text}" is not true/false/yes/no/on/off/1/0` } : { ok: true, value: b };
    }
    case 'quota': {
      // DMail: false | true | default kbytes. `true` with no number means "on, no default limit" (0).
      const lower = text.toLowerCase();
      if (lower === 'false' || lower === 'no' || lower === 'off') return { ok: true, value: false };
      if (lower === 'true' || lower === 'yes' || lower === 'on') return { ok: true, value: 0 };
      return INT.test(text) ? { ok: true, value: Number(text) } : { ok: false, error: `"${text}" is not true, false or a number of kbytes` };
    }
    case 'loglevel': return oneOf(text, LOG_LEVELS);
    case 'authmethod': return oneOf(text, AUTH_METHODS);
    case 'logto': return oneOf(text, LOG_TO);
    case 'facility': return oneOf(text, SYSLOG_FACILITIES);
    case 'list': {
      if (!spec.comma) return { ok: true, value: [text] };
      const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
      return items.length ? { ok: true, value: items } : { ok: false, error: 'missing value' };
    }
  }
}
