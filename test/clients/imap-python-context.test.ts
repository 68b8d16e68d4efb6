// Python's imaplib holding CONTEXT=SORT and CONTEXT=SEARCH contexts (RFC 5267) against bin/imapd over
// real TCP: raw commands through imaplib, the unsolicited ESEARCH updates collected by its own parser
// while it appends, flags and expunges, and CANCELUPDATE.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Listener } from '../helpers/listener.js';
import { imapdOverTcp, type TestSite } from '../imap/imap-client.js';

let l: Listener;
imapdOverTcp(3, (_t: TestSite, listener) => { l = listener; });

const SCRIPT = String.raw`
import imaplib, json, sys
imaplib.Commands['CANCELUPDATE'] = ('SELECTED',)
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]), timeout=30)
out = {'caps': sorted(M.capabilities)}
M.login('bob', 'secret')
M.select('INBOX')
def esearch():
    typ, data = M._untagged_response('OK', [None], 'ESEARCH')
    return [d.decode() for d in data if d]
typ, data = M._simple_command('UID', 'SORT', 'RETURN', '(UPDATE)', '(REVERSE SUBJECT)', 'UTF-8', 'UNSEEN')
out['sort'] = [typ] + esearch()
typ, data = M._simple_command('SEARCH', 'RETURN', '(UPDATE COUNT)', 'UNSEEN')
out['search'] = [typ] + esearch()
M.append('INBOX', None, None, b'Subject: Test message 25\r\n\r\nhi\r\n')
M.noop()
out['append'] = esearch()
M.store('2', '+FLAGS', '(\\Deleted)')
out['store'] = esearch()
M.expunge()
out['expunge'] = esearch()
out['cancel'] = M._simple_command('CANCELUPDATE', '"%s"' % out['sort'][1].split('"')[1])[0]
M.store('1', '+FLAGS', '(\\Seen)')
out['after'] = esearch()
out['uids'] = M.uid('SEARCH', 'ALL')[1][0].decode()
M.logout()
print(json.dumps(out))
`;

describe('python3 imaplib with CONTEXT=SORT/SEARCH', () => {
  it('receives ADDTO/REMOVEFROM for its sort and search contexts', async () => {
    const { stdout } = await promisify(execFile)('python3', ['-c', SCRIPT, String(l.port)], { encoding: 'utf8', timeout: 50_000 });
    const out = JSON.parse(stdout);
    expect(out.caps).toEqual(expect.arrayContaining(['ESORT', 'CONTEXT=SEARCH', 'CONTEXT=SORT']));
    // Subjects "Test message 1".."3" by UIDs 1..3, in reverse order.
    expect(out.sort).toEqual(['OK', expect.stringMatching(/^\(TAG "(\w+)"\) UID ALL 3,2,1$/)]);
    const sortTag = /TAG "(\w+)"/.exec(out.sort[1])![1];
    const searchTag = /TAG "(\w+)"/.exec(out.search[1])![1];
    expect(out.search).toEqual(['OK', `(TAG "${searchTag}") COUNT 3`]);
    // "Test message 25" (UID 4) goes between 3 and 2: position 2; the search adds message 4.
    expect(out.append).toEqual([`(TAG "${sortTag}") UID ADDTO (2 4)`, `(TAG "${searchTag}") ADDTO (0 4)`]);
    expect(out.store).toEqual([]); // \Deleted is not what they look at
    // The expunge of message 2 (UID 2, sort position 3 in 3,4,2,1) leaves both results.
    expect(out.expunge).toEqual([`(TAG "${sortTag}") UID REMOVEFROM (3 2)`, `(TAG "${searchTag}") REMOVEFROM (0 2)`]);
    expect(out.cancel).toBe('OK');
    expect(out.after).toEqual([`(TAG "${searchTag}") REMOVEFROM (0 1)`]); // the sort context is gone
    expect(out.uids).toBe('1 3 4');
  });
});
