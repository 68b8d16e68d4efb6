// `dmailctl convert USER --to maildir|mbox [-i dmail.conf] [--keep-source]`: move one user's mail between
// the mbox layout (drop file + folders) and the maildir layout, with flags, UIDs, UIDVALIDITY and
// subscriptions kept. Everything is copied and verified (message counts and SHA-256 of every message)
// before the source loses anything; a progress file under work_path/convert lets an interrupted run
// continue. Switch `use_maildir` in dmail.conf once every user is converted.

import type { Command } from 'commander';

interface Options {
  to: string;
  config: string;
  keepSource?: boolean;
  localIp: string;
}

/** "[#####.....]  45% 123/456 INBOX" on one stderr line, only when stderr is a terminal. */
function progressBar(): ((done: number, total: number, folder: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (done, total, folder) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const width = 30;
    const frac = total === 0 ? 1 : done / total;
    const fill = Math.round(frac * width);
    const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total} ${folder}`;
    process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 80) - 1)}\x1b[K${done === total ? '\n' : ''}`);
  };
}

/** Give the converted mail to its owner (dmailctl usually runs as root; the servers run as the user). */
async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  const { promises: fsp } = await import('node:fs');
  const { join } = await import('node:path');
  let st;
  try { st = await fsp.lstat(path); } catch { return; }
  await fsp.lchown(path, uid, gid);
  if (!st.isDirectory()) return;
  for (const e of await fsp.readdir(path)) await chownTree(join(path, e), uid, gid);
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('move one user\'s mail between mbox and maildir, keeping flags, UIDs and subscriptions')
    .argument('<user>', 'login name')
    .requiredOption('--to <kind>', 'destination layout: maildir or mbox')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('--keep-source', 'copy and verify, but leave the source untouched')
    .option('--local-ip <ip>', 'server address (selects IP-based virtual domains)', '')
    .action(async (name: string, opts: Options) => {
      if (opts.to !== 'maildir' && opts.to !== 'mbox') {
        process.stderr.write('dmailctl convert: --to must be "maildir" or "mbox"\n');
        process.exitCode = 2;
        return;
      }
      const { join } = await import('node:path');
      const { cliContext } = await import('../session/cli-context.js');
      const { lookupUser, closeAuth } = await import('../auth/index.js');
      const { resolveMboxPaths } = await import('../store/paths.js');
      const { MboxStore } = await import('../store/mbox/store.js');
      const { resolveMaildirPaths } = await import('../store/maildir/paths.js');
      const { createMaildirStore } = await import('../store/maildir/index.js');
      const { convertStores } = await import('../store/maildir/convert.js');
      const ctx = cliContext(opts.config);
      try {
        const r = await lookupUser(ctx, name, { remoteAddress: '127.0.0.1', localAddress: opts.localIp, tls: false });
        if (!r.ok) {
          process.stderr.write(`dmailctl convert: ${name}: ${r.temporary ? 'lookup unavailable' : 'no such user'} (${r.reason})\n`);
          process.exitCode = r.temporary ? 75 : 1;
          return;
        }
        const user = r.user;
        const log = ctx.log.child({ user: user.user, convert: opts.to });
        const mboxPaths = resolveMboxPaths(ctx.settings, user);
        const maildirPaths = resolveMaildirPaths(ctx.settings, user);
        const mbox = new MboxStore(mboxPaths, ctx.settings, log);
        const maildir = createMaildirStore(maildirPaths, ctx.settings, log);
        const [src, dst] = opts.to === 'maildir' ? [mbox, maildir] : [maildir, mbox];
        const from = opts.to === 'maildir' ? `${mboxPaths.inbox} (+ ${mboxPaths.folders})` : maildirPaths.inbox;
        const to = opts.to === 'maildir' ? maildirPaths.inbox : `${mboxPaths.inbox} (+ ${mboxPaths.folders})`;
        const progressFile = join(ctx.settings.work_path ?? '/var/lib/dmail', 'convert',
          `${encodeURIComponent(user.dropName)}.to-${opts.to}.json`);
        process.stderr.write(`Converting ${user.user}: ${from} -> ${to}\n`);
        log.info({ from, to, progressFile }, 'convert: start');
        const report = await convertStores(src, dst, {
          progressFile, removeSource: !opts.keepSource, log, onProgress: progressBar(),
        });
        if (user.uid !== undefined) {
          const gid = user.gid ?? user.uid;
          if (opts.to === 'maildir') await chownTree(maildirPaths.inbox, user.uid, gid);
          else {
            await chownTree(mboxPaths.inbox, user.uid, gid);
            await chownTree(mboxPaths.folders, user.uid, gid);
          }
        }
        const kept = report.folders.every((f) => f.uidsKept);
        const lines = [
          `Converted ${report.messages} messages in ${report.folders.length} folders, ${report.subscriptions} subscriptions.`,
          kept ? 'UIDs and UIDVALIDITY kept: clients will not download again.'
            : `New UIDs in: ${report.folders.filter((f) => !f.uidsKept).map((f) => f.name).join(', ')} (destination was not empty or cannot set UIDs).`,
          'Verified: message counts and SHA-256 digests match.',
          report.removed ? 'Source mail removed.' : 'Source kept (--keep-source).',
        ];
        if (report.leftInSource > 0) lines.push(`${report.leftInSource} messages arrived during the conversion and are still in the source: run convert again.`);
        if (opts.to === 'maildir' && !ctx.settings.use_maildir) lines.push('Set "use_maildir true" in dmail.conf when all users are converted.');
        if (opts.to === 'mbox' && ctx.settings.use_maildir) lines.push('Set "use_maildir false" in dmail.conf when all users are converted.');
        process.stdout.write(lines.join('\n') + '\n');
        log.info({ messages: report.messages, uidsKept: kept, removed: report.removed }, 'convert: done');
      } catch (e) {
        process.stderr.write(`\ndmailctl convert: ${e instanceof Error ? e.message : String(e)}\n`);
        ctx.log.error({ err: String(e) }, 'convert failed');
        process.exitCode = 1;
      } finally {
        await closeAuth(ctx);
      }
    });
}
