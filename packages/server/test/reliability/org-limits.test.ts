// Limits set by the operator CLI on a running server, enforced exactly: the storage quota
// (`oapi-media org limits NAME --quota BYTES`: at the limit passes, one byte over -> 45010) and the
// per-app request rate (`--rate N`: the N+1th call in the same second -> 45009).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sampleOfSize } from '../fixtures/samples.ts';
import { cli } from '../helpers/cli.ts';
import { getToken, upload } from '../helpers/e2e-http.ts';
import { injectApp } from '../helpers/inject-app.ts';
import { recordFigures } from './helpers/figures.ts';
import { startServerProcess, type StartedServer } from './helpers/server-under-test.ts';

let dataDir: string;
let server: StartedServer;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-limits-'));
  server = await startServerProcess(dataDir, { LOG_LEVEL: 'warn' });
});
after(async () => {
  await server?.process.stop('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

async function operator(...args: string[]): Promise<unknown> {
  const result = await cli([...args, '--data', dataDir]);
  assert.equal(result.code, 0, result.stderr);
  return args.includes('--json') ? JSON.parse(result.stdout) : result.stdout;
}

async function orgWithApp(name: string): Promise<string> {
  await operator('org', 'create', name);
  const creds = (await operator('app', 'create', '--org', name, '--name', 'app', '--json')) as { appkey: string; appsecret: string };
  return getToken(server.url, creds.appkey, creds.appsecret);
}

const A = sampleOfSize('png', 10_000);
const B = sampleOfSize('png', 20_000);

test('quota set by the CLI: exactly at the quota passes, one byte over -> 45010; usage and org list show it; none lifts it', async () => {
  const exact = await orgWithApp('quota-exact');
  const over = await orgWithApp('quota-over');
  const setExact = await operator('org', 'limits', 'quota-exact', '--quota', String(A.length + B.length), '--json');
  await operator('org', 'limits', 'quota-over', '--quota', String(A.length + B.length - 1));
  assert.deepEqual(setExact, { org: 'quota-exact', corpid: (setExact as { corpid: string }).corpid, mediaCount: 0, totalBytes: 0, quotaBytes: 30_000, rateLimitPerSecond: null, maxChunkedBytes: 4 * 1024 ** 3 });

  const exactCodes = [
    (await upload(server.url, exact, 'image', A, 'a.png')).errcode,
    (await upload(server.url, exact, 'image', B, 'b.png')).errcode,
    (await upload(server.url, exact, 'image', sampleOfSize('png', 100), 'c.png')).errcode,
  ];
  const overCodes = [(await upload(server.url, over, 'image', A, 'a.png')).errcode, (await upload(server.url, over, 'image', B, 'b.png')).errcode];
  assert.deepEqual(exactCodes, [0, 0, 45010], 'A + B = quota passes; 100 more bytes -> 45010');
  assert.deepEqual(overCodes, [0, 45010], 'A + B = quota + 1 -> 45010');

  const usage = (await operator('usage', '--org', 'quota-over', '--json')) as { mediaCount: number; totalBytes: number; quotaBytes: number };
  assert.deepEqual([usage.mediaCount, usage.totalBytes, usage.quotaBytes], [1, A.length, 29_999], 'the refused upload is not counted');
  const listed = (await operator('org', 'list', '--json')) as { org: string; quotaBytes: number | null; totalBytes: number }[];
  assert.deepEqual(listed.filter((o) => o.org.startsWith('quota-')).map((o) => [o.org, o.quotaBytes, o.totalBytes]),
    [['quota-exact', 30_000, 30_000], ['quota-over', 29_999, 10_000]]);
  assert.match((await cli(['org', 'limits', 'quota-over', '--quota', '-5', '--data', dataDir])).stderr, /invalid quota/);

  await operator('org', 'limits', 'quota-over', '--quota', 'none');
  const lifted = (await upload(server.url, over, 'image', B, 'b.png')).errcode;
  assert.equal(lifted, 0);
  await recordFigures({
    id: 'limits/org-quota', section: 'Limits', title: 'per-organization storage quota set with `oapi-media org limits NAME --quota BYTES`', variant: 'default',
    summary: `quota 30,000 B: uploads of 10,000 + 20,000 B -> ${exactCodes.slice(0, 2).join(', ')}, +100 B -> ${exactCodes[2]}; ` +
      `quota 29,999 B: 10,000 B -> ${overCodes[0]}, +20,000 B -> ${overCodes[1]} (usage stays 10,000 B); --quota none -> ${lifted}`,
    figures: { exactAtQuota: exactCodes.join(' '), oneByteOver: overCodes.join(' '), afterNone: lifted },
  });
});

test('rate set by the CLI: 5 per second -> of 6 calls at once, 5 pass and 1 gets 45009; a second later 5 pass again', async () => {
  const token = await orgWithApp('paced');
  await operator('org', 'limits', 'paced', '--rate', '5');
  const burst = async () => {
    const codes = await Promise.all(Array.from({ length: 6 }, async () =>
      ((await (await fetch(`${server.url}/media/downloadFile?access_token=${token}&media_id=@nothing-here-at-all`)).json()) as { errcode: number }).errcode));
    return codes.sort();
  };
  const first = await burst();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const second = await burst();
  assert.deepEqual(first, [40007, 40007, 40007, 40007, 40007, 45009]);
  assert.deepEqual(second, [40007, 40007, 40007, 40007, 40007, 45009]);
  await recordFigures({
    id: 'limits/app-rate', section: 'Limits', title: 'per-app request rate set with `oapi-media org limits NAME --rate N`', variant: 'default',
    summary: `--rate 5, 6 calls at once: 5 admitted, 1 × 45009; 1.1 s later the same; with a frozen clock: exactly 5 admitted in a second, the 6th 45009, 5 again at +1,000 ms`,
    figures: { rate: 5, firstBurst: first.join(' '), secondBurst: second.join(' ') },
  });
});

test('rate with a frozen clock: exactly N pass within one second, the N+1th is 45009, N again one second later', async () => {
  const t = await injectApp();
  try {
    await t.services.admin.setOrgLimits('default', { rateLimitPerSecond: 5 });
    const token = await t.token();
    const call = async () => (await t.app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=@nothing-here-at-all` })).json().errcode as number;
    const round = async () => { const codes = []; for (let i = 0; i < 6; i++) codes.push(await call()); return codes; };
    assert.deepEqual(await round(), [40007, 40007, 40007, 40007, 40007, 45009]);
    t.clock.now += 999;
    assert.deepEqual(await call(), 40007, '4.995 calls refilled by 999 ms: 4 pass');
    t.clock.now += 1000;
    assert.deepEqual(await round(), [40007, 40007, 40007, 40007, 40007, 45009]);
  } finally {
    await t.close();
  }
});
