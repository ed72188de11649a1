// A bare node:http server around a request-listener module (the inproc scenario's baseline).
// Usage: node bench/servers/bare-server.mjs <port> <module>
import { createServer } from 'node:http';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const port = Number(process.argv[2]);
const handler = (await import(pathToFileURL(process.argv[3]).href)).default;
createServer(handler).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
