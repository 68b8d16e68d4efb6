#!/usr/bin/env node
// A minimal DMail external authentication module for tests: users from a JSON file
// { "bob": { "pass": "secret", "drop": "/abs/drop/file", "uid": 0, "info": { "quota": "100" } } }.
// It speaks the real protocol (check / lookup / exit), so tests exercise the server's real
// external-auth path. The product's own module is `dmailctl authd`.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const users = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const reply = (name, u) => {
  const info = Object.entries(u.info ?? {}).map(([k, v]) => `${k}="${v}"`).join(' ');
  const uid = u.uid ?? 0;
  return `+OK ${name} ${u.drop ?? '-'} ${uid}${info ? ' ' + info : ''}`;
};
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, name = '', pass = ''] = line.trim().split(/\s+/);
  const u = users[name];
  if (cmd === 'exit' || cmd === 'quit') { process.stdout.write('+OK bye\n'); process.exit(0); }
  if (cmd === 'check') process.stdout.write(u && u.pass === pass ? reply(name, u) + '\n' : `-ERR ${name} password wrong or not a valid user\n`);
  else if (cmd === 'lookup') process.stdout.write(u ? reply(name, u) + '\n' : `-ERR ${name} not a valid user\n`);
  else process.stdout.write('-ERR unknown command\n');
});
