// A tiny POP3 client over the inetd harness: one real dpop process per connection.
import { writeFileSync } from 'node:fs';
import { inetdConnect, type Client } from '../helpers/inetd.js';
import { BIN, makeSite, mbox, simpleMessage, type Site } from '../helpers/site.js';

export interface PopClient extends Client {
  greeting: string;
  /** Send one command line, return the one-line answer. */
  cmd(line: string): Promise<string>;
  /** Read a multi-line answer (status line, un-stuffed lines). */
  multi(): Promise<{ status: string; lines: string[] }>;
  /** Send a command and read its multi-line answer. */
  multiCmd(line: string): Promise<{ status: string; lines: string[] }>;
  login(user?: string, pass?: string): Promise<string>;
}

export async function pop(site: Site): Promise<PopClient> {
  const c = (await inetdConnect(BIN.dpop, ['-i', site.conf])) as PopClient;
  c.greeting = await c.line();
  c.cmd = async (line) => { c.send(line + '\r\n'); return c.line(); };
  c.multi = async () => {
    const status = await c.line();
    const lines: string[] = [];
    if (!status.startsWith('+OK')) return { status, lines };
    for (;;) {
      const l = await c.line();
      if (l === '.') return { status, lines };
      lines.push(l.startsWith('.') ? l.slice(1) : l);
    }
  };
  c.multiCmd = async (line) => { c.send(line + '\r\n'); return c.multi(); };
  c.login = async (user = 'bob', pass = 'secret') => {
    const u = await c.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return c.cmd(`PASS ${pass}`);
  };
  return c;
}

/** A site with user bob (password "secret") and `n` simple messages in his drop file. */
export function siteWithMail(n: number, extra: Record<string, string | number | boolean | string[]> = {}): Site {
  const site = makeSite(extra);
  site.addUser('bob', { pass: 'secret' });
  writeMail(site, 'bob', Array.from({ length: n }, (_, i) => simpleMessage(i + 1)));
  return site;
}

export function writeMail(site: Site, user: string, texts: string[]): void {
  writeFileSync(site.drop(user), mbox(texts.map((text) => ({ text }))));
}

/** The message as POP3 must deliver it: CRLF line endings. */
export const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');
