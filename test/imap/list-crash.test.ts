// kill -9 of bin/imapd while it creates folders with special uses (CREATE ... (USE (\Drafts))), renames
// and deletes them: the per-user file of uses is replaced atomically, so afterwards every folder still
// has exactly the uses it was given — except at most the one folder whose CREATE or RENAME the kill cut
// between the folder and the file (special-use.ts: folder first, then its uses), and never a use on a
// folder that was not given one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';

let t: TestSite;
beforeAll(() => { t = siteWithMessages(0); });
afterAll(() => t.cleanup());

/** Folders of one round, listed with their attributes. */
async function listed(s: Imap, prefix: string): Promise<Map<string, string>> {
  const r = await s.cmd(`LIST "" "${prefix}*"`);
  expect(last(r)).toMatch(/OK/);
  const out = new Map<string, string>();
  for (const l of r.slice(0, -1)) {
    const m = /^\* LIST \(([^)]*)\) "\/" (\S+)$/.exec(l);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

describe('special uses under kill -9', () => {
  it('keep every folder\'s uses whole, whenever the server dies', async () => {
    // Deterministic "random" kill points: after this many tagged answers.
    for (const [round, killAfter] of [[1, 7], [2, 23], [3, 41]] as const) {
      const p = `C${round}x`;
      const s = await connectImap(t.site);
      expect(last(await s.login())).toMatch(/OK/);
      const cmds: string[] = [];
      for (let i = 1; i <= 20; i++) {
        cmds.push(`CREATE ${p}D${i} (USE (\\Drafts))`, `CREATE ${p}P${i}`, `RENAME ${p}D${i} ${p}R${i}`);
        if (i % 3 === 0) cmds.push(`DELETE ${p}R${i - 1}`);
      }
      // All at once (pipelined), then kill -9 once `killAfter` answers came back: the next commands are
      // being worked on or waiting.
      s.send(cmds.map((c, i) => `k${i} ${c}\r\n`).join(''));
      let answered = 0;
      while (answered < killAfter) if (/^k\d+ /.test(await s.c.line(20_000))) answered++;
      s.c.kill('SIGKILL');
      await s.c.exited();
      s.close();

      const v = await connectImap(t.site);
      expect(last(await v.login())).toMatch(/OK/);
      const got = await listed(v, p);
      v.close();
      let cut = 0;
      for (const [name, attrs] of got) {
        const given = /R\d+$|D\d+$/.test(name);
        if (!given) expect(attrs, name).not.toContain('\\Drafts');
        else if (!attrs.includes('\\Drafts')) cut++;
      }
      expect(cut, [...got].join(' | ')).toBeLessThanOrEqual(1);
      expect(got.size).toBeGreaterThan(0);
    }
  });
});
