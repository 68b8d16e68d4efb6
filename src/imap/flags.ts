// System flags: the one list the protocol layer uses (FLAGS, PERMANENTFLAGS, STORE/APPEND arguments).
import { ParseError } from './args.js';

import { SYSTEM_FLAGS, canonicalSystemFlag } from '../store/types.js';

export { SYSTEM_FLAGS };

/** System flags are case-insensitive on the wire; store them in their canonical spelling. */
export function normaliseFlags(flags: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const sys = canonicalSystemFlag(f);
      if (!sys) throw new ParseError(`Invalid system flag ${f}`);
      out.add(sys);
    } else {
      out.add(f);
    }
  }
  return [...out];
}
