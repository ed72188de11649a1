// Your function. It may also export ready() (awaited before the first request) and shutdown() (run at SIGTERM
// after the last request). npm dependencies go in function/package.json. This example echoes the request body back with its Content-Type. GET /config shows
// how to use a secret (here "db-password", never echoed): 200 when it is mounted, else 503 with Retry-After.
import type { Context, Event, Result } from '../types.ts';

export async function handle(event: Event, context: Context): Promise<Result> {
  if (event.path === '/config') {
    const password = context.secret('db-password');
    if (password === undefined) {
      return {
        statusCode: 503,
        headers: { 'Retry-After': '10', 'Content-Type': 'text/plain' },
        body: 'the db-password secret is not mounted\n',
      };
    }
    return { statusCode: 200, body: { database: 'configured', passwordChars: password.length } };
  }
  return {
    statusCode: 200,
    headers: { 'Content-Type': event.headers['content-type'] ?? 'text/plain', 'X-Handled-By': 'node-http' },
    body: event.body,
  };
}
