// Entry point of bin/imapd: one IMAP session per process, started by inetd, xinetd or systemd.
import { prepareServer, runServer } from './transport/server-main.js';
import { startMain } from './startup.js';

const loadServe = async () => {
  const { serveImap } = await import('./imap/server.js');
  return serveImap;
};
startMain(() => runServer('imapd', process.argv.slice(2), loadServe), () => prepareServer(loadServe));
