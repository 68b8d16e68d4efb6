// The IMAP4rev1 server for one connection: greeting, command loop, state checks, untagged updates and
// the mapping of store errors to response codes. Commands live in ./commands/, one file each.
import type { Connection } from '../transport/types.js';
import type { ServerContext } from '../session/context.js';
import { StoreError } from '../store/types.js';
import { InputQueue } from './input.js';
import { readCommand, type FramerLimits } from './framer.js';
import { Args, ParseError } from './args.js';
import { ImapSession, type Command, type ImapState } from './session.js';
import { capabilities, SERVER_VERSION } from './capabilities.js';
import { NameError } from './mailbox-name.js';
import { bad, no, type Result } from './result.js';
import { COMMANDS, type CommandSpec } from './commands/index.js';
import { utf8Names } from './rev2.js';
import { overQuota } from './commands/helpers.js';
import { resumeLogin } from './login-flow.js';
import type { ServeOptions } from '../session/handoff.js';

export async function serveImap(conn: Connection, ctx: ServerContext, opts: ServeOptions = {}): Promise<void> {
  const input = new InputQueue({
    pause: () => conn.pause(),
    resume: () => conn.resume(),
    highWater: Math.max(1 << 20, ctx.settings.max_line_length * 2),
  });
  const s = new ImapSession(conn, ctx, input, opts);
  const resume = opts.resume;
  // A login made elsewhere: what the client pipelined after it comes before anything read from now on.
  if (resume) input.push(resume.input);
  conn.onData((chunk) => input.push(chunk));
  // The client sent its last byte (closed without LOGOUT, or half-closed after pipelining): answer what
  // it sent, then the loop sees the end of input and the session finishes at once, letting go of its
  // folder (another session of the same user may be about to DELETE or RENAME it).
  conn.onEnd(() => input.end());
  conn.onClose((reason) => {
    if (reason !== 'closed' && reason !== 'eof') s.log.info({ reason, state: s.state }, 'client connection ended');
    s.dead = true;
    input.end();
  });
  conn.setIdleTimeout(ctx.settings.imapd_login_timeout ?? 180, () => s.autologout());
  // Not logged in yet: an absolute limit as well, however busy the client keeps us (trickled bytes).
  conn.setDeadline(ctx.settings.login_lifetime, () => {
    s.log.info({ seconds: ctx.settings.login_lifetime }, 'not logged in within login_lifetime');
    s.autologout('Login time limit exceeded');
  });
  if (!resume) {
    s.untagged(`OK [CAPABILITY ${capabilities(s)}] ${ctx.hostname} IMAP4rev1 v${SERVER_VERSION} DMail-compatible server ready`);
    s.flush();
  }
  try {
    if (!resume || await resumeLogin(s, resume)) await commandLoop(s);
  } finally {
    s.notifier?.close();
    s.flush();
    s.log.info({ commands: s.commandCount, state: s.state, ...(s.handedOff ? { handedOff: true } : {}) }, 'session end');
    await s.closeSelected();
    await s.user?.close().catch((e: unknown) => s.log.warn({ err: String(e) }, 'session close failed'));
  }
}

function limits(s: ImapSession): FramerLimits {
  const maxLine = Math.max(1024, s.ctx.settings.max_line_length);
  return { maxLine, appendLimit: s.ctx.settings.append_limit, otherLiteralLimit: maxLine };
}

async function commandLoop(s: ImapSession): Promise<void> {
  while (!s.dead && s.state !== 'logout') {
    // A client that does not read its answers gets no more of them: wait until it reads (or the idle
    // timeout, the lifetime or the output cap ends the connection).
    await s.conn.writable();
    if (s.dead) return;
    const frame = await readCommand(s.input, limits(s), {
      continuation: () => {
        // NOTIFY may be in the middle of a response (a literal): the "+" waits until it is whole.
        const n = s.notifier;
        if (!n?.writing) return s.continuation('Ready for literal data');
        void n.pause().then(() => { s.continuation('Ready for literal data'); n.resume(); });
      },
      checkAppend: async () => {
        // Decided before the literal is read: an unauthenticated client must not make us buffer
        // append_limit bytes, and a user at quota need not upload a message we will refuse.
        if (s.state === 'notauth') return 'BAD APPEND not allowed in the not authenticated state';
        return (await overQuota(s).catch(() => false)) ? 'NO [OVERQUOTA] Quota exceeded' : null;
      },
    });
    if (!frame) return;
    await s.notifier?.pause(); // NOTIFY: no unsolicited output while a command runs
    if (frame.kind === 'error') {
      s.line(frame.response);
      s.flush();
      s.notifier?.resume();
      continue;
    }
    await runOne(s, frame.text, frame.literals);
    s.user?.activity(s.selected?.name ?? null); // for dmailctl who
    s.notifier?.resume();
    if (s.byeAfter) {
      s.untagged(`BYE ${s.byeAfter}`);
      s.flush();
      return;
    }
  }
}

function parseHead(a: Args): { tag: string; name: string; uid: boolean } {
  const tag = a.word((c) => c === 0x5d);
  if (tag.includes('+')) throw new ParseError('Invalid tag');
  a.sp();
  let name = a.atom().toUpperCase();
  let uid = false;
  if (name === 'UID') {
    uid = true;
    a.sp();
    name = a.atom().toUpperCase();
  }
  return { tag, name, uid };
}

const STATE_TEXT: Record<ImapState, string> = {
  notauth: 'not authenticated',
  auth: 'authenticated',
  selected: 'selected',
  logout: 'logout',
};

async function runOne(s: ImapSession, text: string, literals: Buffer[]): Promise<void> {
  const a = new Args(text, literals);
  a.utf8Names = utf8Names(s);
  if (text.trim() === '') return; // empty lines are ignored, as Dovecot does
  let head: { tag: string; name: string; uid: boolean };
  try {
    head = parseHead(a);
  } catch {
    const tag = /^[\x21-\x7e]+/.exec(text)?.[0];
    s.line(`${tag && !/[(){%*"\\+]/.test(tag) && tag !== text ? tag : '*'} BAD Error in IMAP command`);
    s.flush();
    return;
  }
  const { tag, name, uid } = head;
  const spec: CommandSpec | undefined = COMMANDS[uid ? `UID ${name}` : name];
  if (!spec) {
    s.tagged(tag, 'BAD', `Unknown command ${uid ? 'UID ' : ''}${name.slice(0, 40)}`);
    return;
  }
  if (!spec.states.includes(s.state)) {
    s.tagged(tag, 'BAD', `${name} not allowed in the ${STATE_TEXT[s.state]} state`);
    return;
  }
  const cmd: Command = { tag, name, uid, args: a };
  s.commandCount++;
  let result: Result | null;
  try {
    result = await spec.run(s, cmd);
  } catch (e) {
    result = errorResult(s, e, name);
  }
  if (result === null) return; // the handler answered itself
  if (s.selected && !s.dead && s.state !== 'logout') {
    try {
      await s.sendUpdates({ refresh: spec.refresh !== false, allowExpunge: uid || !spec.noExpunge });
    } catch (e) {
      s.log.warn({ err: String(e) }, 'mailbox refresh failed');
    }
  }
  let reply = result.text;
  if (result.highestModseq && result.status === 'OK' && s.selected?.inStep && !s.dead) {
    reply = `[HIGHESTMODSEQ ${s.selected.inStepModseq}] ${reply}`;
  }
  s.tagged(tag, result.status, reply);
}

function errorResult(s: ImapSession, e: unknown, name: string): Result {
  if (e instanceof ParseError) return bad(`Error in IMAP command ${name}: ${e.message}`);
  if (e instanceof NameError) return no(e.message);
  if (e instanceof StoreError) {
    let code: string = e.code;
    if (code === 'NONEXISTENT' && (name === 'APPEND' || name === 'COPY' || name === 'MOVE')) code = 'TRYCREATE';
    return no(`[${code}] ${e.message}`);
  }
  s.log.error({ err: { message: (e as Error)?.message, stack: (e as Error)?.stack }, command: name }, 'command failed');
  return no('[SERVERBUG] Internal error occurred. Refer to server log for more information.');
}
