// A client trickling its header block one byte at a time (issue 15, slow clients): the idle timeout
// restarts on every byte, so only a deadline on the whole header block cuts it. The server answers
// 408 and closes the connection near OAPI_MEDIA_HEADER_TIMEOUT_MS, not Node's 60 s (checked every
// 30 s) later, in DingTalk's error shape, and a client that sends its headers in time is served as before.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP and the operator's settings).

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startTestServer } from '../helpers/test-server.ts';
import { recordFigures } from './helpers/figures.ts';

const HEADER_TIMEOUT_MS = 1_000;

/** Sends a header block a byte every `everyMs`; resolves with what the server sent and when it closed. */
function trickleHeaders(baseUrl: string, everyMs: number): Promise<{ answer: string; closedAfterMs: number }> {
  const { hostname, port } = new URL(baseUrl);
  const request = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    let sent = 0;
    const started = performance.now();
    const timer = setInterval(() => {
      if (sent < request.length && !socket.destroyed) socket.write(request.subarray(sent, ++sent));
    }, everyMs);
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {}); // a reset after the 408 ends the trickle as well
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, closedAfterMs: performance.now() - started });
    });
    setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error(`still connected after 20 s; received: ${answer}`));
    }, 20_000).unref();
  });
}

test('headers trickled a byte at a time are cut with 408 near the header deadline', async () => {
  const server = await startTestServer({ config: { headerTimeoutMs: HEADER_TIMEOUT_MS } });
  try {
    const { answer, closedAfterMs } = await trickleHeaders(server.baseUrl, 50);
    assert.match(answer, /^HTTP\/1\.1 408 /, `the answer: ${JSON.stringify(answer.slice(0, 80))}`);
    // In DingTalk's error shape, with the request id of the answer (malformed-http.test.ts).
    const requestId = /\r\nx-request-id: ([0-9a-f-]{36})\r\n/.exec(answer)?.[1];
    assert.ok(requestId, `an x-request-id: ${JSON.stringify(answer.slice(0, 300))}`);
    assert.equal(Buffer.from(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'latin1').toString('utf8'), JSON.stringify({ errcode: 408, errmsg: '请求头超时', request_id: requestId }));
    // The deadline plus one check interval (a quarter of it) plus scheduling slack on a busy machine.
    assert.ok(closedAfterMs < HEADER_TIMEOUT_MS + 250 + 2_500, `closed after ${closedAfterMs.toFixed(0)} ms`);
    assert.ok(closedAfterMs >= HEADER_TIMEOUT_MS * 0.9, `not before the deadline: ${closedAfterMs.toFixed(0)} ms`);
    const healthy = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(healthy.status, 200, 'a client that sends its headers at once is served');
    await recordFigures({
      id: 'hostile/slow-headers',
      section: 'Hostile input',
      title: `A header block trickled a byte every 50 ms (the idle timer restarts on each byte); header deadline ${HEADER_TIMEOUT_MS / 1000} s (default 15 s, OAPI_MEDIA_HEADER_TIMEOUT_MS)`,
      variant: 'default',
      summary: `cut with 408 in DingTalk's error shape (with x-request-id) ${(closedAfterMs / 1000).toFixed(2)} s after its first byte (Node alone: ~72 s); a client sending its headers at once served 200 meanwhile`,
      figures: { headerTimeoutMs: HEADER_TIMEOUT_MS, trickleEveryMs: 50, closedAfterMs: Math.round(closedAfterMs), status: 408, healthyStatus: healthy.status },
    });
  } finally {
    await server.close();
  }
});

test('the header deadline is configuration: invalid values are refused at start', async () => {
  const { loadConfig } = await import('../../src/config.ts');
  assert.throws(() => loadConfig({ headerTimeoutMs: '0' }, {}), /invalid header timeout: must be above 0/);
  assert.throws(() => loadConfig({}, { OAPI_MEDIA_HEADER_TIMEOUT_MS: '600000' }), /invalid header timeout: 600000 ms is above 300000 ms/);
  assert.equal(loadConfig({}, {}).headerTimeoutMs, 15_000);
});
