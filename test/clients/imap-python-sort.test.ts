// Python's imaplib SORT and THREAD (its sort()/thread() methods, and UID forms through uid()) against
// bin/imapd over real TCP: an independent client parsing our answers.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { useThreadInbox } from './thread-inbox.js';

const port = useThreadInbox();

const SCRIPT = String.raw`
import imaplib, json, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]), timeout=30)
out = {'caps': sorted(M.capabilities)}
M.login('bob', 'secret')
M.select('INBOX')
out['sort_date'] = M.sort('(DATE)', 'UTF-8', 'ALL')[1][0].decode()
out['sort_rev_subject'] = M.sort('(REVERSE SUBJECT DATE)', 'UTF-8', 'ALL')[1][0].decode()
out['uid_sort'] = M.uid('SORT', '(DATE)', 'UTF-8', 'SUBJECT', 'plan')[1][0].decode()
out['thread_refs'] = M.thread('REFERENCES', 'UTF-8', 'ALL')[1][0].decode()
out['thread_subject'] = M.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL')[1][0].decode()
out['uid_thread'] = M.uid('THREAD', 'REFERENCES', 'UTF-8', 'ALL')[1][0].decode()
typ, data = M._simple_command('SORT', 'RETURN', '(COUNT MIN)', '(DATE)', 'UTF-8', 'ALL')
out['esort'] = [typ, M._untagged_response(typ, data, 'ESEARCH')[1][0].decode()]
M.logout()
print(json.dumps(out))
`;

describe('python3 imaplib SORT/THREAD', () => {
  it('sorts and threads through imaplib', async () => {
    const { stdout } = await promisify(execFile)('python3', ['-c', SCRIPT, String(port())], { encoding: 'utf8', timeout: 50_000 });
    const out = JSON.parse(stdout);
    expect(out.caps).toEqual(expect.arrayContaining(['SORT', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT', 'ESORT']));
    expect(out.sort_date).toBe('4 1 2 3');
    expect(out.sort_rev_subject).toBe('4 1 3 2');
    expect(out.uid_sort).toMatch(/^\d+ \d+ \d+$/);
    // 4 names 1 and 3 as its ancestors: 1 → 3 → 4; 2 alone.
    expect(out.thread_refs).toBe('(1 3 4)(2)');
    expect(out.thread_subject).toBe('(4 (1)(3))(2)');
    expect(out.uid_thread).toMatch(/^\(\d+ \d+ \d+\)\(\d+\)$/);
    expect(out.esort).toEqual(['OK', expect.stringMatching(/^\(TAG "\w+"\) COUNT 4 MIN 4$|^\(TAG "\w+"\) MIN 4 COUNT 4$/)]);
  });
});
