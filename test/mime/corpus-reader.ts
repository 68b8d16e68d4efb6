// Reads the Dovecot answer files of /work/shared/corpus: "C: command" annotations, the untagged
// response bytes (with {n} literals read by length, since literal data may look like annotations)
// and the "S: status" line.
import { readFileSync } from 'node:fs';

export interface CorpusExchange {
  command: string;
  /** The untagged response bytes as a latin1 string (CRLF included). */
  response: string;
  status: string;
}

export function readAnswers(path: string): CorpusExchange[] {
  const s = readFileSync(path).toString('latin1');
  const out: CorpusExchange[] = [];
  let pos = 0;
  const readLine = (): string => {
    const e = s.indexOf('\r\n', pos);
    const end = e < 0 ? s.length : e;
    const line = s.slice(pos, end);
    pos = e < 0 ? s.length : e + 2;
    return line;
  };
  while (pos < s.length) {
    const cmdLine = readLine();
    if (!cmdLine.startsWith('C: ')) throw new Error(`expected C: at ${pos} in ${path}: ${cmdLine.slice(0, 60)}`);
    let response = '';
    while (pos < s.length && !s.startsWith('S: ', pos)) {
      // One logical response line; after each literal the line goes on to the next CRLF.
      for (;;) {
        const e = s.indexOf('\r\n', pos);
        const line = s.slice(pos, e + 2);
        pos = e + 2;
        response += line;
        const m = /~?\{(\d+)\}\r\n$/.exec(line);
        if (!m) break;
        const n = Number(m[1]);
        response += s.slice(pos, pos + n);
        pos += n;
      }
    }
    const status = readLine().slice(3);
    out.push({ command: cmdLine.slice(3), response, status });
  }
  return out;
}

/**
 * Splits `* n FETCH (ITEM value ITEM value ...)` into item → value text, understanding quoted
 * strings, literals and nested parentheses.
 */
export function fetchItems(response: string): Map<string, string> {
  const items = new Map<string, string>();
  const m = /^\* \d+ FETCH \(/.exec(response);
  if (!m) return items;
  let p = m[0].length;
  const s = response;
  const skipValue = (): void => {
    if (s[p] === '"') {
      p++;
      while (s[p] !== '"') p += s[p] === '\\' ? 2 : 1;
      p++;
    } else if (s[p] === '{' || (s[p] === '~' && s[p + 1] === '{')) {
      const e = s.indexOf('}', p);
      const n = Number(s.slice(s.indexOf('{', p) + 1, e));
      p = e + 3 + n;
    } else if (s[p] === '(') {
      p++;
      while (s[p] !== ')') {
        skipValue();
        if (s[p] === ' ') p++;
      }
      p++;
    } else {
      while (p < s.length && !' ()'.includes(s[p]) && s[p] !== '\r') p++;
    }
  };
  while (p < s.length && s[p] !== ')') {
    let nameEnd = p;
    while (s[nameEnd] !== ' ') {
      if (s[nameEnd] === '[') nameEnd = s.indexOf(']', nameEnd);
      nameEnd++;
    }
    const name = s.slice(p, nameEnd);
    p = nameEnd + 1;
    const vs = p;
    skipValue();
    items.set(name, s.slice(vs, p));
    if (s[p] === ' ') p++;
  }
  return items;
}
