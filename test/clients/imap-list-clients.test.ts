// Real clients on the mailbox-listing extensions (issue 14): imapflow's list() and mailboxCreate(), which
// send LIST ... RETURN (SUBSCRIBED SPECIAL-USE STATUS (...)) when LIST-EXTENDED/LIST-STATUS/SPECIAL-USE
// are advertised (and fall back, with a logged warning, when a server refuses the RETURN options); and
// Python's imaplib, an independent parser, reading extended LIST, CHILDINFO and inline STATUS.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import type { Listener } from '../helpers/listener.js';
import { imapdOverTcp, type TestSite } from '../imap/imap-client.js';

let t: TestSite;
let l: Listener;
imapdOverTcp(3, (site, listener) => { t = site; l = listener; });

describe('imapflow list()', () => {
  it('gets special uses, subscriptions and STATUS in one LIST-EXTENDED command, without falling back', async () => {
    const warnings: string[] = [];
    const commands: string[] = [];
    const log = (sink: string[]) => (o: { msg?: string; err?: unknown }) => { if (o?.msg) sink.push(String(o.msg)); };
    const logger = {
      debug: (o: { src?: string; msg?: string }) => { if (o?.src === 'c' && o.msg) commands.push(o.msg); },
      info: () => {}, warn: log(warnings), error: log(warnings),
    };
    const c = new ImapFlow({
      host: '127.0.0.1', port: l.port, secure: false, auth: { user: 'bob', pass: 'secret' }, logger,
    });
    c.on('log', () => {});
    await c.connect();
    await c.mailboxCreate('Brouillons');
    await c.mailboxCreate(['Work', 'Q1']);
    // imapflow has no CREATE-SPECIAL-USE helper: its raw exec path sends our parameters as given.
    const r = await (c as unknown as { exec(cmd: string, attrs: unknown[]): Promise<{ next(): void }> }).exec('CREATE', [
      { type: 'ATOM', value: 'Papers' }, [{ type: 'ATOM', value: 'USE' }, [{ type: 'ATOM', value: '\\Archive' }]],
    ]);
    r.next();
    await c.mailboxSubscribe('Work/Q1');
    await c.append('Work/Q1', 'Subject: one\r\n\r\nbody\r\n', ['\\Seen']);
    await c.append('Work/Q1', 'Subject: two\r\n\r\nbody\r\n');
    commands.length = 0;
    const list = await c.list({ statusQuery: { messages: true, unseen: true, uidNext: true } });
    expect(warnings.filter((w) => /reject|retry/i.test(w))).toEqual([]);
    // One LIST carrying every RETURN option; no LSUB, no STATUS per folder.
    expect(commands.map((x) => x.replace(/^\S+ /, ''))).toEqual([expect.stringMatching(/^LIST .*RETURN \(.*STATUS \(.*\)/)]);
    expect(commands[0]).toMatch(/SUBSCRIBED/);
    expect(commands[0]).toMatch(/SPECIAL-USE/);
    const by = new Map(list.map((m) => [m.path, m]));
    expect([...by.keys()].sort()).toEqual(['Brouillons', 'INBOX', 'Papers', 'Work', 'Work/Q1']);
    expect(by.get('Papers')!.specialUse).toBe('\\Archive');
    expect(by.get('Papers')!.flags.has('\\Archive')).toBe(true);
    expect(by.get('Work/Q1')!.subscribed).toBe(true);
    expect(by.get('Work/Q1')!.status).toMatchObject({ messages: 2, unseen: 1 });
    expect(by.get('INBOX')!.status).toMatchObject({ messages: 3, unseen: 3 });
    expect(by.get('Papers')!.status).toMatchObject({ messages: 0 });
    await c.logout();
  });
});

const SCRIPT = String.raw`
import imaplib, json, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]), timeout=30)
out = {'caps': sorted(M.capabilities)}
M.login('alice', 'wonder')
out['create'] = [M.create(n)[0] for n in ['"Sent Items"', 'Lists/py', 'MyDrafts (USE (\\Drafts))', '"Bad*Name"']]
M.subscribe('Lists/py')
typ, data = M.list('""', '("INBOX" "*Drafts" "Lists") RETURN (STATUS (MESSAGES UNSEEN))')
out['list'] = [d.decode() for d in data]
out['status'] = [d.decode() for d in M.untagged_responses.pop('STATUS', [])]
typ, data = M.list('(SUBSCRIBED RECURSIVEMATCH) ""', '%')
out['recursive'] = [d.decode() for d in data]
typ, data = M.list('(SPECIAL-USE) ""', '*')
out['special'] = [d.decode() for d in data]
M.logout()
print(json.dumps(out))
`;

describe('python3 imaplib', () => {
  it('reads extended LIST, CHILDINFO and inline STATUS; CREATE with USE', async () => {
    const { stdout } = await promisify(execFile)('python3', ['-c', SCRIPT, String(l.port)], { encoding: 'utf8', timeout: 50_000 });
    const out = JSON.parse(stdout) as Record<string, string[]>;
    expect(out.caps).toEqual(expect.arrayContaining(['LIST-EXTENDED', 'LIST-STATUS', 'CREATE-SPECIAL-USE', 'SPECIAL-USE']));
    expect(out.create).toEqual(['OK', 'OK', 'OK', 'NO']);
    expect(out.list!.map((x) => x.replace(/^\([^)]*\) "\/" /, ''))).toEqual(['INBOX', 'Lists', 'MyDrafts']);
    expect(out.list!.find((x) => x.endsWith('MyDrafts'))).toContain('\\Drafts');
    expect(out.status).toEqual(['INBOX (MESSAGES 0 UNSEEN 0)', 'MyDrafts (MESSAGES 0 UNSEEN 0)']);
    expect(out.recursive).toEqual([expect.stringMatching(/^\(.*\) "\/" Lists \("CHILDINFO" \("SUBSCRIBED"\)\)$/)]);
    expect(out.special!.map((x) => x.replace(/^\([^)]*\) "\/" /, ''))).toEqual(['MyDrafts', '"Sent Items"']);
  });
});
