// Behind a load balancer the client address comes from X-Forwarded-For, but only when the operator
// says to trust it (OAPI_MEDIA_TRUST_PROXY): the per-IP credential-guessing limit depends on it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { injectApp } from './helpers/inject-app.ts';

async function failuresFrom(trustProxy: boolean, addresses: string[]): Promise<number[]> {
  const t = await injectApp({ trustProxy, authFailureLimit: 2 });
  try {
    const codes: number[] = [];
    for (const address of addresses) {
      const res = await t.app.inject({ url: `/gettoken?appkey=${t.appKey}&appsecret=wrong`, headers: { 'x-forwarded-for': address } });
      codes.push(res.json().errcode);
    }
    return codes;
  } finally {
    await t.close();
  }
}

test('trusted proxy: each forwarded client has its own allowance of failed credential checks', async () => {
  assert.deepEqual(await failuresFrom(true, ['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2']), [40096, 40096, 45009, 40096]);
});

test('untrusted X-Forwarded-For is ignored: a client cannot dodge the limit by forging it', async () => {
  assert.deepEqual(await failuresFrom(false, ['10.0.0.1', '10.0.0.2', '10.0.0.3']), [40096, 40096, 45009]);
});
