// Entry point of bin/dpop: one POP3 session per process, started by inetd, xinetd or systemd.
import { runServer } from './transport/server-main.js';

void runServer('dpop', process.argv.slice(2), async () => {
  const { servePop3 } = await import('./pop3/server.js');
  return servePop3;
});
