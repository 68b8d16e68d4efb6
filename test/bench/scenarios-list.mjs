// Bench rows of the mailbox-listing work (issue 14): LIST-STATUS over a user with 200 folders, ours
// beside Dovecot. run.mjs passes its session helpers in (one import, one spread in SCENARIOS, one in the
// user list).

/** Users these rows need (each gets a password and a Dovecot passwd entry like every bench user). */
export const LIST_USERS = ['lister'];

const FOLDERS = 200;
const PER_FOLDER = 3;
const message = (f, i) => `From: list${i}@example.com\r\nTo: lister@example.com\r\nSubject: folder ${f} message ${i}\r\nMessage-ID: <list-${f}-${i}@bench>\r\n\r\nbody ${i}\r\n`;
const folderName = (f) => `Folder${String(f).padStart(3, '0')}`;

/**
 * @param {object} h run.mjs helpers: imapSession(t, user, body), ok(client, cmd, ms, key), Skip, light(n),
 *   plan (corpora), CMD_MS.
 */
export function listScenarios({ imapSession, ok, Skip, light, plan, CMD_MS }) {
  const [user] = LIST_USERS;
  /** Spools populated so far: ours and ours-resident share one site, so one population serves both. */
  const populated = new Set();
  /** Once per site: INBOX from the small corpus, 200 folders of PER_FOLDER messages (one seen), made
   *  through IMAP itself so each server lays them out its own way. */
  async function populate(t) {
    if (populated.has(t.spoolOf(user))) return;
    t.place(user, plan.small, true);
    await imapSession(t, user, async (c) => {
      for (let f = 1; f <= FOLDERS; f++) {
        const name = folderName(f);
        const r = await c.imap(`CREATE ${name}`, { ms: CMD_MS });
        if (!r.ok && !/ALREADYEXISTS|already exists/i.test(r.status)) throw new Skip(`CREATE ${name} failed: ${r.status.slice(0, 100)}`);
        for (let i = 1; i <= PER_FOLDER; i++) {
          const m = message(f, i);
          await ok(c, `APPEND ${name}${i === 1 ? ' (\\Seen)' : ''} {${Buffer.byteLength(m)}+}\r\n${m}`, {});
        }
      }
    });
    populated.add(t.spoolOf(user));
  }

  return [
    {
      id: 'list-status-200', title: `LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN)), ${FOLDERS} folders`, unit: 'ms', lower: true, runs: light(5),
      who: ['ours', 'ours-resident', 'dovecot'],
      prepare: (t) => populate(t),
      once: async (t) => {
        let got = null;
        const s = await imapSession(t, user, async (c, ms) => {
          const r = await c.imap('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))', { collect: true, ms: CMD_MS });
          if (!r.ok) throw new Skip(`LIST-STATUS failed: ${r.status.slice(0, 100)}`);
          ms.list = r.ms;
          got = r.lines;
        });
        // A figure only for the full answer: a LIST and a STATUS for INBOX and every folder.
        const lists = got.filter((l) => l.startsWith('* LIST ')).length;
        const folderStatus = got.filter((l) => /^\* STATUS "?Folder\d{3}"? \(MESSAGES 3 UNSEEN 2\)$/.test(l)).length;
        if (lists < FOLDERS + 1 || folderStatus !== FOLDERS) throw new Skip(`LIST-STATUS gave ${lists} LIST and ${folderStatus} folder STATUS lines, want ${FOLDERS + 1} and ${FOLDERS}`);
        return { value: s.ms.list, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB };
      },
      target: { text: '<= dovecot', vs: 'dovecot', max: 1.0 },
    },
  ];
}
