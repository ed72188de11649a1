// A minimal node:http upstream for the http scenarios: `OK` for any request, 64 MiB from /big.
// Usage: node bench/servers/upstream.mjs <port>   (or env http_port / PORT)
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import process from 'node:process';

const port = Number(process.argv[2] ?? process.env.http_port ?? process.env.PORT ?? 3000);
const BIG_BYTES = 64 << 20;
const chunk = Buffer.alloc(1 << 20, 'abcdefghijklmnopqrstuvwxyz\n');
const OK = Buffer.from('OK');

createServer((req, res) => {
  if (req.url === '/big') {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(BIG_BYTES) });
    let left = BIG_BYTES;
    const pump = () => {
      while (left > 0) {
        left -= chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  // Read the body (if any) before answering, like a real handler would.
  req.on('data', () => {});
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' }).end(OK));
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
