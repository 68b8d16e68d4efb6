// LIST attributes of folders whose names are also the names of an object's inherited properties: the
// special-use table is looked up by own keys only (a folder named "constructor" once came out with
// `function Object() { [native code] }` among its attributes). With LIST-STATUS, as clients poll.
import { describe, expect, it } from 'vitest';
import { imapFixture, last } from './imap-client.js';

const fx = imapFixture();

describe('LIST attributes of folders named like inherited object properties', () => {
  it('gives them no special use, and a real special-use name its attribute', async () => {
    const t = fx.site(1);
    const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];
    const c = await fx.session(t, ...names.map((n) => `CREATE ${n}`), 'CREATE Sent');
    const lines = await c.cmd('LIST "" "*" RETURN (STATUS (MESSAGES))');
    expect(last(lines)).toMatch(/OK/);
    for (const n of names) {
      // mbox folders hold messages or folders, never both (\NoInferiors); maildir ones may hold both.
      const l = lines.find((x) => x.startsWith('* LIST ') && x.endsWith(` "/" ${n}`));
      expect(l, n).toMatch(/^\* LIST \((\\NoInferiors )?\\HasNoChildren\) "\/" \S+$/);
      expect(lines, n).toContain(`* STATUS ${n} (MESSAGES 0)`);
    }
    expect(lines.find((x) => / "\/" "?Sent"?$/.test(x))).toMatch(/\\Sent/);
  });
});
