// The manual pages (dist/man, written by the build through `dmailctl man --out`): they render without
// groff warnings, and they cover what the programs really offer — every dmail.conf setting, every
// dmailctl command and option, every imapd/dpop option — because they are generated from those sources.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/site.js';
import { SETTINGS } from '../../src/config/settings.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { MAN_PAGES } from '../../src/cli/man.js';

const page = (p: string) => readFileSync(join(ROOT, 'dist/man', p), 'utf8');
/** What a reader sees: the page rendered by groff as man(1) does, without hyphenation or adjusting. */
function rendered(p: string): { text: string; warnings: string } {
  const r = spawnSync('groff', ['-ww', '-man', '-Tutf8', '-rHY=0', '-dAD=l', '-P-c', '-P-b', '-P-u', join(ROOT, 'dist/man', p)], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8' } });
  expect(r.status).toBe(0);
  return { text: r.stdout.replace(/\s+/g, ' '), warnings: r.stderr };
}

describe('manual pages', () => {
  it.each(MAN_PAGES)('%s renders with man -l and without groff warnings', (p) => {
    const { warnings } = rendered(p);
    expect(warnings).toBe('');
    const man = spawnSync('man', ['-l', join(ROOT, 'dist/man', p)], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } });
    expect(man.status).toBe(0);
    expect(man.stdout).toMatch(/NAME/);
  });

  it('dmail.conf(5) describes every setting the server reads, with the comment of dmail.conf.example', () => {
    const text = page('dmail.conf.5');
    for (const name of Object.keys(SETTINGS)) expect(text, name).toMatch(new RegExp(`^\\.B ${name.replace(/_/g, '_')}( |$)`, 'm'));
    expect(rendered('dmail.conf.5').text).toContain('Where the log goes: file (the files above), syslog');
  });

  it('dmailctl(8) lists every command, and the options of each as --help gives them', () => {
    const text = rendered('dmailctl.8').text;
    for (const c of COMMANDS) expect(text, c.name).toContain(` ${c.name} `);
    const help = spawnSync(BIN.dmailctl, ['whois', '--help'], { encoding: 'utf8' }).stdout;
    for (const flag of help.match(/--[a-z-]+/g) ?? []) if (flag !== '--help') expect(text).toContain(flag);
  });

  it.each(['imapd', 'dpop'])('dmail-%s(8) lists every option of its --help', (program) => {
    const help = spawnSync(program === 'imapd' ? BIN.imapd : BIN.dpop, ['--help'], { encoding: 'utf8' });
    const flags = (help.stdout + help.stderr).match(/(?<=\s)--?[a-z][a-z-]*/g) ?? [];
    expect(flags.length).toBeGreaterThan(1);
    const text = rendered(`dmail-${program}.8`).text;
    for (const f of flags) expect(text).toContain(f);
  });
});
