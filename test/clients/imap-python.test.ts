// Python's imaplib against bin/imapd over real TCP: an independent client implementation doing what
// a sync client does (folder tree, append, flags, search, copy/move, expunge).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Listener } from '../helpers/listener.js';
import { imapdOverTcp, type TestSite } from '../imap/imap-client.js';

let t: TestSite;
let l: Listener;
imapdOverTcp(4, (site, listener) => { t = site; l = listener; });

const SCRIPT = String.raw`
import imaplib, json, sys, time
port = int(sys.argv[1])
out = {}
M = imaplib.IMAP4('127.0.0.1', port, timeout=30)
out['caps'] = sorted(M.capabilities)
out['login'] = M.login('bob', 'secret')[0]
for name in ['Archive', 'Lists/python', 'Lists/node', 'Sent']:
    out.setdefault('create', []).append(M.create(name)[0])
typ, data = M.list()
out['list'] = sorted(d.decode() for d in data)
typ, data = M.list('Lists/', '%')
out['list_sub'] = sorted(d.decode() for d in data)
msg = b'From: py@example.com\r\nTo: bob@example.com\r\nSubject: from python\r\n\r\nbody text from python\r\n'
typ, data = M.append('Lists/python', '(\\Seen $Label1)', imaplib.Time2Internaldate(time.time()), msg)
out['append'] = [typ, data[0].decode()]
typ, data = M.select('INBOX')
out['select'] = [typ, int(data[0])]
typ, data = M.search(None, 'SUBJECT', '"message 2"')
out['search_subject'] = data[0].decode()
typ, data = M.uid('SEARCH', 'UNSEEN')
out['search_unseen'] = data[0].decode()
typ, data = M.store('1:2', '+FLAGS', '(\\Flagged)')
out['store'] = [d.decode() for d in data]
typ, data = M.fetch('1', '(RFC822)')
out['fetch_body'] = data[0][1].decode()
typ, data = M.fetch('1', '(FLAGS)')
out['flags_after'] = data[0].decode()
typ, data = M.copy('1:2', 'Archive')
out['copy'] = [typ, data[0].decode()]
typ, data = M.uid('MOVE', '3', 'Lists/node')
out['move'] = typ
typ, data = M.store('1', '+FLAGS', '(\\Deleted)')
typ, data = M.expunge()
out['expunge'] = [d.decode() for d in data if d]
typ, data = M.status('Archive', '(MESSAGES UNSEEN)')
out['status_archive'] = data[0].decode()
typ, data = M.status('Lists/node', '(MESSAGES)')
out['status_node'] = data[0].decode()
typ, data = M.select('Lists/python', readonly=True)
typ, data = M.fetch('1', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
out['python_folder'] = [data[0][0].decode(), data[0][1].decode()]
M.close()
out['logout'] = M.logout()[0]
print(json.dumps(out))
`;

describe('python3 imaplib', () => {
  it('syncs a folder tree, appends, flags, searches, copies, moves and expunges', async () => {
    // Asynchronously: the listener that starts imapd per connection lives in this very process.
    const { stdout } = await promisify(execFile)('python3', ['-c', SCRIPT, String(l.port)], { encoding: 'utf8', timeout: 50_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.caps).toContain('IMAP4REV1');
    expect(out.login).toBe('OK');
    expect(out.create).toEqual(['OK', 'OK', 'OK', 'OK']);
    const list = out.list as string[];
    expect(list.some((x) => x.endsWith('"/" INBOX') || x.endsWith('"INBOX"'))).toBe(true);
    expect(list.some((x) => x.includes('\\HasChildren') && /Lists"?$/.test(x))).toBe(true);
    expect(list.some((x) => x.includes('\\Sent'))).toBe(true);
    expect((out.list_sub as string[]).length).toBe(2);
    expect((out.append as string[])[0]).toBe('OK');
    expect((out.append as string[])[1]).toMatch(/APPENDUID \d+ 1/);
    expect(out.select).toEqual(['OK', 4]);
    expect(out.search_subject).toBe('2');
    expect(out.search_unseen).toBe('1 2 3 4');
    expect((out.store as string[]).length).toBe(2);
    expect(out.fetch_body).toContain('Hello, this is message 1.');
    expect(out.flags_after).toMatch(/\\Seen/);
    expect((out.copy as string[])[1]).toMatch(/COPYUID \d+ 1:2 1:2/);
    expect(out.move).toBe('OK');
    expect((out.expunge as string[]).at(-1)).toBe('1'); // imaplib also returns the MOVE's EXPUNGE
    expect(out.status_archive).toMatch(/MESSAGES 2 UNSEEN 1/);
    expect(out.status_node).toMatch(/MESSAGES 1/);
    expect((out.python_folder as string[])[0]).toMatch(/FLAGS \(.*\\Seen.*\)/);
    expect((out.python_folder as string[])[0]).toContain('$Label1');
    expect((out.python_folder as string[])[1]).toContain('Subject: from python');
    expect(out.logout).toBe('BYE');
  });
});
