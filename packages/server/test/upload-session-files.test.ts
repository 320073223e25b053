// Session files (api.md "Large files"): on a disk store a tus upload's PATCHes are written in place
// into <data>/tmp/<session id>.session. The expiry sweep removes such files once no session owns
// them (a crash between the row's delete and the file's), past a minute's grace, and never the file
// of a live session. On S3 a session's bytes are chunk blobs: no session file is ever made.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stagingFiles } from './helpers/data-folder.ts';
import { getToken } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

let server: TestServer;
let token: string;
before(async () => {
  server = await startTestServer();
  token = await getToken(server.baseUrl, server.appKey, server.appSecret);
});
after(() => server.close());

const exists = (path: string) => stat(path).then(() => true, () => false);

test('the sweep removes session files no session owns, past their grace; a live session keeps its file', async () => {
  const created = await fetch(`${server.baseUrl}/tus/files`, {
    method: 'POST', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, 'upload-length': String(2048) },
  });
  assert.equal(created.status, 201);
  const url = new URL(created.headers.get('location')!, server.baseUrl).toString();
  const patched = await fetch(url, {
    method: 'PATCH', body: new Uint8Array(randomBytes(1024)),
    headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
  });
  assert.equal(patched.status, 204);
  const tmp = join(server.dataDir, 'tmp');
  const live = join(tmp, `${url.split('/').pop()}.session`);
  const orphanOld = join(tmp, `${'a'.repeat(32)}.session`);
  const orphanYoung = join(tmp, `${'b'.repeat(32)}.session`);
  const onDisk = process.env.TEST_STORAGE_URL === undefined;
  assert.equal(await exists(live), onDisk, onDisk ? 'a disk store writes the PATCH in place' : 'S3: no session file');
  await writeFile(orphanOld, 'left by a crash');
  await writeFile(orphanYoung, 'maybe a session being created');
  const twoMinutesAgo = new Date(Date.now() - 120_000);
  await utimes(orphanOld, twoMinutesAgo, twoMinutesAgo);
  if (onDisk) await utimes(live, twoMinutesAgo, twoMinutesAgo); // old, but owned

  await server.server.services.sessions.sweepExpired();
  if (onDisk) {
    assert.equal(await exists(orphanOld), false, 'an orphan past its grace is removed');
    assert.equal(await exists(orphanYoung), true, 'an orphan within its grace stays');
    assert.equal(await exists(live), true, 'a live session keeps its file');
  }
  const rest = await fetch(url, {
    method: 'PATCH', body: new Uint8Array(randomBytes(1024)),
    headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, 'content-type': 'application/offset+octet-stream', 'upload-offset': '1024' },
  });
  assert.equal(rest.status, 204, await rest.text());
  assert.ok(rest.headers.get('oapi-media-id'));
  assert.deepEqual((await stagingFiles(server.dataDir)).filter((name) => name !== `${'b'.repeat(32)}.session` && name !== `${'a'.repeat(32)}.session`), []);
});
