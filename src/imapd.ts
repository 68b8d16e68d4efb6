// Entry point of bin/imapd: one IMAP session per process, started by inetd, xinetd or systemd.
import { runServer } from './transport/server-main.js';

void runServer('imapd', process.argv.slice(2), async () => {
  const { serveImap } = await import('./imap/server.js');
  return serveImap;
});
