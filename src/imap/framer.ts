// Splits the input into whole IMAP commands: a command line plus any literals `{n}` / `{n+}` it carries.
// The command text comes back with each literal replaced by a NUL placeholder (NUL cannot appear in a
// legal command) and the literal bytes in order beside it, so the tokenizer sees one flat string. A
// literal8 `~{n}` (RFC 3516, APPEND only) keeps its `~` before the placeholder: `~\0` can only come
// from here, never from the client, so the tokenizer knows which literals may carry NUL bytes.
// Limits are enforced here, before anything is buffered: an over-long line, a literal over its limit.

import type { InputQueue } from './input.js';

export interface FramedCommand {
  kind: 'command';
  text: string;
  literals: Buffer[];
}

export interface FrameError {
  kind: 'error';
  /** Tag recovered from the start of the line, or '*' when there is none. */
  tag: string;
  /** The full response line to send (without CRLF), already decided here. */
  response: string;
}

export type Frame = FramedCommand | FrameError;

export interface FramerLimits {
  maxLine: number;
  /** Largest literal APPEND may carry. */
  appendLimit: number;
  /** Total literal bytes any other command may carry. */
  otherLiteralLimit: number;
}

export interface FramerHooks {
  /** Ask the client for a synchronising literal. */
  continuation(): void;
  /** Before accepting an APPEND literal of `size` bytes: return a refusal (e.g. OVERQUOTA) or null. */
  checkAppend?(size: number): Promise<string | null>;
}

const LITERAL_AT_END = /(~?)\{(\d{1,20})(\+?)\}$/;
const TAG_RE = /^([\x21-\x7e]+?)(?: |$)/;

export function recoverTag(text: string): string {
  const m = TAG_RE.exec(text);
  const tag = m?.[1] ?? '';
  return tag && !/[(){%*"\\+]/.test(tag) && !tag.includes('\0') ? tag : '*';
}

function commandName(text: string): string {
  const parts = text.split(' ');
  let name = (parts[1] ?? '').toUpperCase();
  if (name === 'UID') name = `UID ${(parts[2] ?? '').toUpperCase()}`;
  return name;
}

/** Read one command. Returns null at end of input. */
export async function readCommand(input: InputQueue, limits: FramerLimits, hooks: FramerHooks): Promise<Frame | null> {
  let text = '';
  const literals: Buffer[] = [];
  let literalTotal = 0;
  for (;;) {
    const got = await input.readLine(Math.max(0, limits.maxLine - text.length));
    if (!got) return null;
    const seg = got.line.toString('latin1');
    if (got.tooLong) {
      const tag = recoverTag(text + seg);
      return { kind: 'error', tag, response: `${tag} BAD Command line too long` };
    }
    if (seg.includes('\0')) {
      const tag = recoverTag(text + seg);
      return { kind: 'error', tag, response: `${tag} BAD NUL byte in command` };
    }
    const m = LITERAL_AT_END.exec(seg);
    if (!m) {
      text += seg;
      return { kind: 'command', text, literals };
    }
    const binary = m[1] === '~';
    text += seg.slice(0, m.index) + (binary ? '~\0' : '\0');
    const size = Number(m[2]);
    const nonSync = m[3] === '+';
    const tag = recoverTag(text);
    const name = commandName(text);
    const isAppend = name === 'APPEND';
    // Each literal of an APPEND is at most append_limit; all of them together (MULTIAPPEND, CATENATE)
    // too, since the command is held in memory until it runs.
    const limit = (isAppend ? limits.appendLimit : limits.otherLiteralLimit) - literalTotal;
    let refusal: string | null = null;
    if (tag === '*') refusal = '* BAD Missing command tag';
    else if (binary && !isAppend) refusal = `${tag} BAD literal8 is only allowed in APPEND`;
    else if (!Number.isSafeInteger(size) || size > limit) {
      refusal = isAppend
        ? `${tag} NO [TOOBIG] ${literalTotal ? 'Messages' : 'Message'} too large (limit ${limits.appendLimit} bytes)`
        : `${tag} BAD Literal too large`;
    } else if (isAppend && hooks.checkAppend && literals.length === 0) {
      // Once per command: later literals of a MULTIAPPEND/CATENATE are checked with the whole set when
      // the command runs (a quota lookup per literal would cost a folder walk each).
      const r = await hooks.checkAppend(size);
      if (r) refusal = `${tag} ${r}`;
    }
    if (refusal) {
      // A client that sent {n+} will send the bytes anyway: drop them, and the rest of the command,
      // without keeping them. After a synchronising literal the client waits and gets our refusal.
      if (nonSync) await skipRestOfCommand(input, size, limits.maxLine);
      return { kind: 'error', tag, response: refusal };
    }
    if (!nonSync) hooks.continuation();
    const bytes = await input.readBytes(size);
    if (!bytes) return null;
    literals.push(bytes);
    literalTotal += size;
  }
}

async function skipRestOfCommand(input: InputQueue, firstLiteral: number, maxLine: number): Promise<void> {
  let pending: number | null = firstLiteral;
  while (pending !== null) {
    if (!(await input.discard(pending))) return;
    pending = null;
    const got = await input.readLine(maxLine);
    if (!got || got.tooLong) return;
    const m = LITERAL_AT_END.exec(got.line.toString('latin1'));
    // Only another non-synchronising literal follows without our say-so.
    if (m && m[3] === '+' && Number.isSafeInteger(Number(m[2]))) pending = Number(m[2]);
  }
}
