// System flags: the one list the protocol layer uses (FLAGS, PERMANENTFLAGS, STORE/APPEND arguments).
import { ParseError } from './args.js';

/** In the order FLAGS and PERMANENTFLAGS list them. */
export const SYSTEM_FLAGS: readonly string[] = ['\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Seen'];

const CANONICAL = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** System flags are case-insensitive on the wire; store them in their canonical spelling. */
export function normaliseFlags(flags: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const sys = CANONICAL.get(f.toLowerCase());
      if (!sys) throw new ParseError(`Invalid system flag ${f}`);
      out.add(sys);
    } else {
      out.add(f);
    }
  }
  return [...out];
}
