// A /gettoken that checked the old appsecret just before `app rotate-secret` (or `app delete`) must
// not hand out a token that outlives the rotation: the rotation changes the row, then deletes the
// app's tokens, and a token stored after that deletion is caught by the check after the store.
// The race is made deterministic by running the rotation inside the token store's write.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiError } from '@oapi-media/core';
import { openServices } from '../src/composition-root.ts';
import { loadConfig } from '../src/config.ts';
import type { TokenRow } from '../src/stores/metadata/interface.ts';
import { appPrincipal } from '../src/service/tokens.ts';

for (const change of ['rotate-secret', 'app delete'] as const) {
  test(`${change} between the secret check and the token's store: the token is refused and nothing stays valid`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-revocation-race-'));
    const services = await openServices(loadConfig({ dataDir }, {}));
    try {
      await services.admin.createOrg('acme');
      const creds = await services.admin.createApp('acme', 'crm');
      const app = (await services.metadata.listApps()).find((a) => a.appKey === creds.appkey)!;
      const store = services.metadata;
      const insertToken = store.insertToken.bind(store);
      let raced = false;
      // The operator's command lands after the secret was checked, before the token is stored.
      store.insertToken = async (row: TokenRow) => {
        if (!raced) {
          raced = true;
          if (change === 'rotate-secret') await services.admin.rotateSecret('acme', 'crm');
          else await services.admin.deleteApp('acme', 'crm');
        }
        return insertToken(row);
      };
      await assert.rejects(
        services.dialect.access.tokenForApp('127.0.0.1', creds.appkey, creds.appsecret, 'dingtalk'),
        (error: unknown) => error instanceof ApiError && error.kind === 'wrongCredentials',
      );
      assert.equal(raced, true, 'the race was run');
      assert.equal(await store.findValidToken(appPrincipal(app.id), app.orgId, Date.now()), null, 'no token of the old secret is valid');
    } finally {
      await services.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}
