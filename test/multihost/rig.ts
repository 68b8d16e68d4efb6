// Several "hosts" sharing one spool on a real distributed filesystem (issue 16): GlusterFS 10 (Debian's
// glusterfs-server / glusterfs-client) in network namespaces, loopback-range addresses only
// (../shared/platform-notes.md has the facts this follows):
//
//   storage namespace  127.0.0.2    glusterd + one brick, volume "dmv"
//   host namespace i   127.i.0.1    a FUSE mount of the volume at <dir>/m<i>, joined to storage by a veth
//
// A host's servers and MDA run with `nsenter --net` into its namespace, so every file operation they make
// on their mount travels over that host's link to the brick; cutting the link (cut(i)) partitions exactly
// that host. Only the network namespace is entered: mounts stay visible to the test process (ip netns exec
// would unshare the mount namespace too). Client sockets are made in the test's own namespace and handed
// to the servers as inetd does, so a cut link partitions the host from the storage, not from its clients.
//
// Coherence settings (the README's "Several hosts" section explains them): mount options
// attribute-timeout=0, entry-timeout=0, negative-timeout=0, direct-io-mode=enable; volume options
// performance.stat-prefetch/quick-read/write-behind/open-behind/io-cache/read-ahead/readdir-ahead off; a
// short network.ping-timeout so a partition is noticed in seconds, not 42 s.
//
// glusterd keeps sockets and pid files under /var/run/gluster: one rig at a time per machine.
import { execFileSync, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MOUNT_OPTIONS = 'attribute-timeout=0,entry-timeout=0,negative-timeout=0,direct-io-mode=enable';
export const VOLUME_OPTIONS: [string, string][] = [
  ['performance.stat-prefetch', 'off'], ['performance.quick-read', 'off'], ['performance.write-behind', 'off'],
  ['performance.open-behind', 'off'], ['performance.io-cache', 'off'], ['performance.read-ahead', 'off'],
  ['performance.readdir-ahead', 'off'], ['network.ping-timeout', '5'],
];

export const haveGluster = process.getuid?.() === 0 && existsSync('/dev/fuse')
  && spawnSync('glusterd', ['--version']).status === 0 && spawnSync('ip', ['netns', 'list']).status === 0;

export interface Rig {
  dir: string;
  /** Mount point of host i (1-based). */
  mount(i: number): string;
  /** argv prefix that runs a command in host i's network namespace. */
  onHost(i: number): string[];
  /** Take host i's link to the storage down / up again. */
  cut(i: number): void;
  heal(i: number): void;
  stop(): void;
}

const sh = (cmd: string, args: string[], opts: SpawnOptions = {}) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60_000, ...opts } as never) as unknown as string;

export function startRig(hosts: number): Rig {
  const id = `dm${process.pid % 100000}`;
  const S = `${id}s`;
  const H = (i: number) => `${id}h${i}`;
  const dir = mkdtempSync(join(tmpdir(), 'dmail-gluster-'));
  const ns = (n: string) => ['nsenter', `--net=/run/netns/${n}`];
  const inNs = (n: string, cmd: string, ...args: string[]) => sh(ns(n)[0]!, [...ns(n).slice(1), cmd, ...args]);
  const made: string[] = [];
  const mounted: string[] = [];

  const stop = () => {
    for (const m of mounted) spawnSync('umount', ['-l', m]);
    // glusterd, the brick and the FUSE clients all name the rig's directory on their command lines.
    spawnSync('pkill', ['-9', '-f', dir]);
    for (const n of made) spawnSync('ip', ['netns', 'del', n]);
    for (let i = 0; i < 50 && spawnSync('pgrep', ['-f', dir]).status === 0; i++) spawnSync('sleep', ['0.1']);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const lo = (n: string, addr: string) => {
      inNs(n, 'ip', 'link', 'set', 'lo', 'up');
      inNs(n, 'ip', 'addr', 'del', '127.0.0.1/8', 'dev', 'lo');
      inNs(n, 'ip', 'addr', 'add', '127.0.0.1/32', 'dev', 'lo');
      inNs(n, 'ip', 'addr', 'add', `${addr}/32`, 'dev', 'lo');
      inNs(n, 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.lo.rp_filter=0');
    };
    for (const n of [S, ...Array.from({ length: hosts }, (_, k) => H(k + 1))]) { sh('ip', ['netns', 'add', n]); made.push(n); }
    lo(S, '127.0.0.2');
    for (let i = 1; i <= hosts; i++) {
      lo(H(i), `127.${i}.0.1`);
      sh('ip', ['link', 'add', `${id}s${i}`, 'netns', S, 'type', 'veth', 'peer', 'name', `${id}h${i}`, 'netns', H(i)]);
      for (const [n, dev] of [[S, `${id}s${i}`], [H(i), `${id}h${i}`]] as const) {
        inNs(n, 'ip', 'link', 'set', dev, 'up');
        inNs(n, 'sysctl', '-qw', `net.ipv4.conf.${dev}.route_localnet=1`, `net.ipv4.conf.${dev}.rp_filter=0`);
      }
      inNs(S, 'ip', 'route', 'add', `127.${i}.0.1/32`, 'dev', `${id}s${i}`, 'src', '127.0.0.2');
      inNs(H(i), 'ip', 'route', 'add', '127.0.0.2/32', 'dev', `${id}h${i}`, 'src', `127.${i}.0.1`);
    }
    // glusterd with its own working directory (the machine's /var/lib/glusterd stays untouched).
    mkdirSync(join(dir, 'gd'));
    mkdirSync(join(dir, 'brick'));
    writeFileSync(join(dir, 'glusterd.vol'), readFileSync('/etc/glusterfs/glusterd.vol', 'utf8').replace(/\/var\/lib\/glusterd/g, join(dir, 'gd')));
    inNs(S, 'glusterd', '-f', join(dir, 'glusterd.vol'), '-p', join(dir, 'glusterd.pid'), '-l', join(dir, 'glusterd.log'));
    const gluster = (...args: string[]) => inNs(S, 'gluster', '--mode=script', ...args);
    for (let k = 0; ; k++) {
      if (spawnSync(ns(S)[0]!, [...ns(S).slice(1), 'gluster', '--mode=script', 'volume', 'list']).status === 0) break;
      if (k > 300) throw new Error('glusterd did not answer');
      spawnSync('sleep', ['0.1']);
    }
    gluster('volume', 'create', 'dmv', `127.0.0.2:${join(dir, 'brick')}`, 'force');
    gluster('volume', 'set', 'dmv', ...VOLUME_OPTIONS.flat());
    gluster('volume', 'start', 'dmv');
    for (let i = 1; i <= hosts; i++) {
      const m = join(dir, `m${i}`);
      mkdirSync(m);
      inNs(H(i), 'mount', '-t', 'glusterfs', '-o', MOUNT_OPTIONS, '127.0.0.2:/dmv', m);
      mounted.push(m);
    }
  } catch (e) {
    stop();
    throw e;
  }
  return {
    dir,
    mount: (i) => join(dir, `m${i}`),
    onHost: (i) => ns(H(i)),
    cut: (i) => { inNs(S, 'ip', 'link', 'set', `${id}s${i}`, 'down'); },
    heal: (i) => {
      inNs(S, 'ip', 'link', 'set', `${id}s${i}`, 'up');
      spawnSync(ns(S)[0]!, [...ns(S).slice(1), 'ip', 'route', 'replace', `127.${i}.0.1/32`, 'dev', `${id}s${i}`, 'src', '127.0.0.2']);
      spawnSync(ns(H(i))[0]!, [...ns(H(i)).slice(1), 'ip', 'route', 'replace', '127.0.0.2/32', 'dev', `${id}h${i}`, 'src', `127.${i}.0.1`]);
    },
    stop,
  };
}
