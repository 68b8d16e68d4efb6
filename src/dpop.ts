// Entry point of bin/dpop: one POP3 session per process, started by inetd, xinetd or systemd.
import { prepareServer, runServer } from './transport/server-main.js';
import { startMain } from './startup.js';

const loadServe = async () => {
  const { servePop3 } = await import('./pop3/server.js');
  return servePop3;
};
startMain(() => runServer('dpop', process.argv.slice(2), loadServe), () => prepareServer(loadServe));
