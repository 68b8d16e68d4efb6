// Python's poplib against bin/dpop: a real, independent POP3 client implementation.
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { listen, type Listener } from '../helpers/listener.js';
import { BIN } from '../helpers/site.js';
import { siteWithMail, writeMail } from '../pop3/pop-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

async function setup(): Promise<{ site: Site; l: Listener }> {
  const site = siteWithMail(0);
  cleanup.push(() => removeSite(site.dir));
  writeMail(site, 'bob', [simpleMessage(1), 'Subject: dots\n\n.starts with a dot\n..two\n.\nend\n', simpleMessage(3)]);
  const l = await listen(BIN.dpop, ['-i', site.conf]);
  cleanup.push(() => l.close());
  return { site, l };
}

const SCRIPT = `
import json, poplib, sys
port, mode = int(sys.argv[1]), sys.argv[2]
out = {}
p = poplib.POP3('127.0.0.1', port, timeout=20)
out['welcome'] = p.getwelcome().decode()
out['capa'] = sorted(p.capa().keys())
if mode == 'apop':
    out['login'] = p.apop('bob', 'apopsecret').decode()
else:
    p.user('bob'); out['login'] = p.pass_('secret').decode()
out['stat'] = list(p.stat())
resp, lines, octets = p.list(); out['list'] = [l.decode() for l in lines]
resp, lines, octets = p.uidl(); out['uidl'] = [l.decode() for l in lines]
msgs = []
for i in range(1, out['stat'][0] + 1):
    resp, lines, octets = p.retr(i)
    msgs.append({'lines': [l.decode('latin-1') for l in lines], 'octets': octets})
out['msgs'] = msgs
resp, lines, octets = p.top(2, 1); out['top'] = [l.decode() for l in lines]
out['dele'] = p.dele(1).decode()
try:
    p.retr(1)
    out['retr_deleted'] = 'ok'
except poplib.error_proto as e:
    out['retr_deleted'] = str(e)
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

// Asynchronous on purpose: the listener that starts dpop runs in this process's event loop.
async function runPython(port: number, mode: string): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)('python3', ['-c', SCRIPT, String(port), mode], { encoding: 'utf8', timeout: 40_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('python3 poplib', () => {
  it('runs a full session: CAPA, USER/PASS, STAT, LIST, UIDL, RETR, TOP, DELE, QUIT', async () => {
    const { l } = await setup();
    const out = (await runPython(l.port, 'user')) as {
      welcome: string; capa: string[]; login: string; stat: number[]; list: string[]; uidl: string[];
      msgs: { lines: string[]; octets: number }[]; top: string[]; dele: string; retr_deleted: string; quit: string;
    };
    expect(out.welcome).toMatch(/^\+OK DPOP/);
    expect(out.capa).toEqual(expect.arrayContaining(['TOP', 'UIDL', 'USER', 'SASL', 'PIPELINING', 'RESP-CODES']));
    expect(out.login).toMatch(/^\+OK bob has 3 msgs/);
    expect(out.stat[0]).toBe(3);
    expect(out.list).toHaveLength(3);
    expect(out.uidl).toHaveLength(3);
    // poplib un-stuffs: the body comes back exactly as written.
    expect(out.msgs[1]!.lines).toEqual(['Subject: dots', '', '.starts with a dot', '..two', '.', 'end']);
    expect(out.msgs[0]!.lines).toContain('Subject: Test message 1');
    expect(out.top).toEqual(['Subject: dots', '', '.starts with a dot']);
    expect(out.dele).toMatch(/^\+OK/);
    expect(out.retr_deleted).toMatch(/-ERR/);
    expect(out.quit).toMatch(/^\+OK/);
    // The DELE took effect at QUIT.
    const again = (await runPython(l.port, 'user')) as { stat: number[] };
    expect(again.stat[0]).toBe(2);
  });
});
