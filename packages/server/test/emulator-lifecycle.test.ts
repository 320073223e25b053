// 100 emulators started and closed in one process leak nothing a test runner would notice: no
// handle, no folder in memory, no growing heap.

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import { memoryFolder } from '../src/emulator/emulator.ts';
import { startEmulator } from '../src/emulator/index.ts';
import { sample } from './fixtures/samples.ts';
import { getToken, upload } from './helpers/e2e-http.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const emulatorFolders = async () => (await readdir(memoryFolder())).filter((name) => name.startsWith('oapi-media-emulator-'));

/**
 * The handles keeping the event loop alive, by kind (timers, sockets, servers…). File system
 * requests are left out: the last rmdir of a closed emulator's folder has resolved its promise
 * before its request object is collected, so it can still be listed for a moment.
 */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo().filter((name) => !name.startsWith('FSReq'))) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

test('starting and closing 100 emulators, each with an upload, leaks no handle, folder or memory', async () => {
  const foldersBefore = await emulatorFolders();
  // One first, so that what is loaded once (modules, fastify's caches) is not counted as a leak.
  const warm = await startEmulator({ seed: 1 });
  await warm.close();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const resourcesBefore = activeResources();
  const heapBefore = process.memoryUsage().heapUsed;
  const png = sample('png');
  for (let i = 0; i < 100; i++) {
    const emu = await startEmulator({ seed: i });
    const token = await getToken(emu.baseUrl, emu.credentials.dingtalk.appkey, emu.credentials.dingtalk.appsecret);
    assert.equal((await upload(emu.baseUrl, token, 'image', png, 'a.png')).errcode, 0);
    await emu.close();
  }
  // fetch's idle keep-alive sockets to the closed emulators are closed by their servers: let them go.
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  assert.deepEqual(await emulatorFolders(), foldersBefore, 'every data folder removed');
  assert.deepEqual(Object.fromEntries(activeResources()), Object.fromEntries(resourcesBefore), 'the same handles as before');
  assert.ok(heapGrowth < 20 * 1024 * 1024, `heap grew ${(heapGrowth / 1024 / 1024).toFixed(1)} MB over 100 emulators`);
});
