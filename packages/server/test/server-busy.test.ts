// A request the server itself is slow to answer (a large session's commit) is not cut by the idle
// timeout meant for silent clients; the timeout is back once the work is done.

import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { withoutIdleTimeout } from '../src/http/server-busy.ts';

const IDLE_MS = 200;

async function answerAfter(workMs: number, guarded: boolean): Promise<{ outcome: string; timeoutAfter: number }> {
  let timeoutAfter = -1;
  const server = createServer((request, response) => {
    const work = () => new Promise<void>((resolve) => setTimeout(resolve, workMs));
    const done = guarded ? withoutIdleTimeout({ raw: request } as unknown as FastifyRequest, work) : work();
    void done.then(() => {
      timeoutAfter = request.socket.timeout ?? -1;
      response.end('ok');
    });
  });
  server.setTimeout(IDLE_MS);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    const outcome = await new Promise<string>((resolve) => {
      httpRequest({ host: '127.0.0.1', port, path: '/' }, (response: IncomingMessage) => {
        let body = '';
        response.on('data', (chunk: Buffer) => { body += chunk; });
        response.on('end', () => resolve(body));
      }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message)).end();
    });
    return { outcome, timeoutAfter };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('work longer than the idle timeout: cut without the guard, answered with it, and the timeout restored after', async () => {
  assert.equal((await answerAfter(4 * IDLE_MS, false)).outcome, 'ECONNRESET', 'the idle timeout cuts a connection the server is silent on');
  const guarded = await answerAfter(4 * IDLE_MS, true);
  assert.equal(guarded.outcome, 'ok');
  assert.equal(guarded.timeoutAfter, IDLE_MS);
});
