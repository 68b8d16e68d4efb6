// CANCELUPDATE (RFC 5267 §4.4): end the search contexts named by their tags.
import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { ok, type Result } from '../result.js';
import { cancelContext } from '../search-context.js';

export async function cancelupdate(s: ImapSession, c: Command): Promise<Result> {
  const tags: string[] = [];
  do {
    c.args.sp();
    tags.push(c.args.stringBytes().toString('latin1'));
  } while (!c.args.atEnd);
  const unknown = tags.filter((t) => !cancelContext(s.selected, t));
  if (unknown.length) throw new ParseError(`No search context for tag ${unknown[0]!.slice(0, 40)}`);
  return ok('CANCELUPDATE completed');
}
