// The start-up floor: the smallest node:http server (CommonJS, no ESM loader), answering 200 to anything.
// Usage: node bench/servers/bare-http.cjs   (port from $PORT)
'use strict';
/* global require, process */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS on purpose: the floor without the ESM loader
const { createServer } = require('node:http');

createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
  res.end('OK');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
