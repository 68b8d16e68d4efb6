// What `dmailctl who` and `dmailctl sessions` share: the live session records of a dmail.conf's work_path,
// and printing them as aligned columns.
import { ConfigError, loadConfig } from '../config/parse.js';
import { listSessions, type SessionInfo } from '../log/sessions.js';

/** The live sessions of the site `configPath` describes; exits with a message when it cannot be read. */
export function liveSessions(configPath: string): SessionInfo[] {
  let workPath: string;
  try {
    workPath = loadConfig(configPath, 'dmailctl').settings.work_path;
  } catch (e) {
    process.stderr.write(`dmailctl: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
    process.exit(1);
  }
  return listSessions(workPath);
}

/** Rows (the first is the header) as columns two spaces apart. */
export function printColumns(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
}
