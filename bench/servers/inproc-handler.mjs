// The handler of the inproc scenario, a node:http request listener: `OK` for any request, after reading its body.
// fwatchdog loads it with mode=inproc; bench/servers/bare-server.mjs serves it with node:http alone.
import { Buffer } from 'node:buffer';

const OK = Buffer.from('OK');

export default function handler(req, res) {
  req.on('data', () => {});
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' }).end(OK));
}
