// Perl's Mail::IMAPClient (Debian libmail-imapclient-perl): a third-party client library with sort(),
// thread() (it parses THREAD answers into nested arrays itself), Uid mode and compress() (RFC 4978), against
// bin/imapd over real TCP. Python's IMAPClient, which the issue names, is not packaged in Debian and PyPI
// is not reachable here; this library exercises the same calls.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { useThreadInbox } from './thread-inbox.js';

const port = useThreadInbox();

const SCRIPT = String.raw`
use strict; use warnings;
use Mail::IMAPClient; use JSON::PP;
my $port = shift;
my $imap = Mail::IMAPClient->new(Server => '127.0.0.1', Port => $port, User => 'bob', Password => 'secret', Uid => 0)
  or die "connect: $@\n";
my %out;
$out{caps} = [sort @{ $imap->capability }];
$imap->select('INBOX') or die "select: $@\n";
$out{sort_date} = [ $imap->sort('(DATE)', 'UTF-8', 'ALL') ];
$out{sort_rev_subject} = [ $imap->sort('(REVERSE SUBJECT DATE)', 'UTF-8', 'ALL') ];
$out{thread_refs} = $imap->thread('REFERENCES', 'UTF-8', 'ALL');
$out{thread_subject} = $imap->thread('ORDEREDSUBJECT', 'UTF-8', 'ALL');
$imap->Uid(1);
$out{uid_sort} = [ $imap->sort('(DATE)', 'UTF-8', 'SUBJECT', 'plan') ];
$imap->Uid(0);
$imap->compress or die "compress: $@\n";
my $h = $imap->fetch_hash('FLAGS', 'RFC822.SIZE');
$out{fetched} = scalar(keys %$h);
# A FETCH modifier (RFC 7162 CHANGEDSINCE: only what changed since mod-sequence 1, i.e. message 2) passed through the library's fetch(); it returns the raw lines.
$imap->store(2, '+FLAGS (\\Flagged)') or die "store: $@\n";
my $lines = $imap->fetch('1:*', '(FLAGS)', '(CHANGEDSINCE 1)') or die "fetch: $@\n";
$out{changedsince} = [ grep { /^\* \d+ FETCH/ } @$lines ];
$out{thread_after_compress} = $imap->thread('REFERENCES', 'UTF-8', 'ALL');
$imap->logout;
print encode_json(\%out), "\n";
`;

describe('Mail::IMAPClient sort/thread/compress', () => {
  it('sorts, threads and fetches over COMPRESS=DEFLATE through the Perl library', async () => {
    const { stdout } = await promisify(execFile)('perl', ['-e', SCRIPT, String(port())], { encoding: 'utf8', timeout: 50_000 });
    const out = JSON.parse(stdout);
    expect(out.caps).toEqual(expect.arrayContaining(['SORT', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT', 'COMPRESS=DEFLATE']));
    expect(out.sort_date).toEqual([4, 1, 2, 3].map(String));
    expect(out.sort_rev_subject).toEqual([4, 1, 3, 2].map(String));
    expect(out.uid_sort).toHaveLength(3);
    // 4 names 1 and 3 as its ancestors: 1 → 3 → 4; 2 alone. The library nests a child thread as an array.
    expect(JSON.stringify(out.thread_refs)).toBe('[["1","3","4"],["2"]]');
    expect(JSON.stringify(out.thread_subject)).toBe('[["4",["1"],["3"]],["2"]]');
    expect(out.fetched).toBe(4);
    expect(out.changedsince).toHaveLength(1);
    expect(out.changedsince[0]).toMatch(/^\* 2 FETCH \(.*\\Flagged.*MODSEQ \(([2-9]|\d\d+)\)|^\* 2 FETCH \(.*MODSEQ \(([2-9]|\d\d+)\).*\\Flagged/);
    expect(out.thread_after_compress).toEqual(out.thread_refs);
  });
});
