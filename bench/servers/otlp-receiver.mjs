// The bench's OTLP/HTTP collector: takes POST /v1/traces (OTLP JSON), counts the spans, answers {}; GET /count says how many.
// Usage: node otlp-receiver.mjs <port>
import { Buffer } from 'node:buffer';
import http from 'node:http';
import process from 'node:process';

let spans = 0;
http
  .createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') return void res.end('ok');
    if (req.method === 'GET' && req.url === '/count') return void res.end(String(spans));
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        for (const rs of JSON.parse(Buffer.concat(chunks).toString('utf8')).resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
      } catch {
        // Not OTLP JSON: counted as nothing.
      }
      res.setHeader('Content-Type', 'application/json');
      res.end('{}');
    });
  })
  .listen(Number(process.argv[2]), '127.0.0.1');
