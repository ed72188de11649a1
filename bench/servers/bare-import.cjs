// The start-up floor of mode=inproc: the bare node:http server of bare-http.cjs, once it has imported
// the function module the way inproc does (import(), which brings up Node's ESM loader).
// Usage: HANDLER=/path/to/handler.cjs node bench/servers/bare-import.cjs   (port from $PORT)
'use strict';
/* global require, process */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS on purpose, as bare-http.cjs
const { createServer } = require('node:http');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const { pathToFileURL } = require('node:url');

import(pathToFileURL(process.env.HANDLER).href).then((ns) => {
  const handler = ns.default;
  createServer((req, res) => handler(req, res)).listen(Number(process.env.PORT), '127.0.0.1');
});
process.on('SIGTERM', () => process.exit(0));
