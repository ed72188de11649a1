// The "plain Node" fork baseline: a node:http server that spawns the program per request,
// pipes the body to its stdin and its stdout to the response (no process groups, no CGI env, no logs).
// Usage: node bench/servers/node-spawn.mjs <port> <program> [args...]
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import process from 'node:process';

const [portText, program = 'cat', ...args] = process.argv.slice(2);

createServer((req, res) => {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'ignore'] });
  child.on('error', () => res.destroy());
  child.stdin.on('error', () => {
    // EPIPE: the program exited without reading its input; its output still answers.
  });
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
  req.pipe(child.stdin);
  child.stdout.pipe(res);
}).listen(Number(portText), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
