// Behind a load balancer the client address comes from X-Forwarded-For, but only when the operator
// says to trust it (OAPI_MEDIA_TRUST_PROXY): the per-IP credential-guessing limit depends on it.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP and the operator's settings).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from './helpers/test-server.ts';

/** The errcode of a wrong-appsecret /gettoken from each forwarded address in turn (2 failures allowed per client). */
async function failuresFrom(trustProxy: boolean, addresses: string[]): Promise<number[]> {
  const server = await startTestServer({ config: { trustProxy, authFailureLimit: 2 } });
  try {
    const codes: number[] = [];
    for (const address of addresses) {
      const response = await fetch(`${server.baseUrl}/gettoken?appkey=${server.appKey}&appsecret=wrong`, { headers: { 'x-forwarded-for': address } });
      codes.push(((await response.json()) as { errcode: number }).errcode);
    }
    return codes;
  } finally {
    await server.close();
  }
}

test('trusted proxy: each forwarded client has its own allowance of failed credential checks', async () => {
  assert.deepEqual(await failuresFrom(true, ['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2']), [40096, 40096, 45009, 40096]);
});

test('untrusted X-Forwarded-For is ignored: a client cannot dodge the limit by forging it', async () => {
  assert.deepEqual(await failuresFrom(false, ['10.0.0.1', '10.0.0.2', '10.0.0.3']), [40096, 40096, 45009]);
});
