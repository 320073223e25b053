// The emulator as a user's integration tests meet it: faults of every kind (rules and the
// X-Oapi-Fault header), each answered as the platform or its network would, and the journal that
// says what the app under test sent.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { startEmulator, type Emulator } from '../src/emulator/index.ts';
import { sample } from './fixtures/samples.ts';
import { downloadBytes, getToken, multipartBody, sha256, upload } from './helpers/e2e-http.ts';

let emu: Emulator;
let token: string;

before(async () => {
  emu = await startEmulator({ seed: 3 });
});
after(async () => {
  await emu.close();
});
beforeEach(async () => {
  await emu.reset();
  token = await getToken(emu.baseUrl, emu.credentials.dingtalk.appkey, emu.credentials.dingtalk.appsecret);
  emu.requests.clear();
});

/** An upload that retries as an app's own code would: on 45009 and on a dropped connection, at most `attempts` times. */
async function uploadWithRetries(bytes: Buffer, attempts: number): Promise<{ mediaId: string; tries: number; failures: string[] }> {
  const failures: string[] = [];
  for (let tries = 1; tries <= attempts; tries++) {
    try {
      const answer = await upload(emu.baseUrl, token, 'image', bytes, 'photo.png');
      if (answer.errcode === 0) return { mediaId: answer.media_id!, tries, failures };
      failures.push(`errcode ${answer.errcode}`);
      if (answer.errcode !== 45009) break;
    } catch (error) {
      failures.push(`network ${((error as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? (error as Error).message}`);
    }
  }
  throw new Error(`gave up: ${failures.join(', ')}`);
}

test('my retry code survives one 45009 and one connection reset', async () => {
  emu.faults.add({ path: '/media/upload', errcode: 45009, times: 1 });
  emu.faults.add({ path: '/media/upload', kind: 'reset', times: 1 });
  const png = sample('png');
  const { mediaId, tries, failures } = await uploadWithRetries(png, 5);
  assert.equal(tries, 3);
  assert.equal(failures[0], 'errcode 45009');
  assert.match(failures[1]!, /^network (ECONNRESET|UND_ERR_SOCKET|other side closed)/);
  const { bytes } = await downloadBytes(emu.baseUrl, token, mediaId);
  assert.equal(sha256(bytes), sha256(png));
  // The journal shows the three attempts and what happened to each.
  const uploads = emu.requests.list({ path: '/media/upload' });
  assert.deepEqual(uploads.map((e) => [e.fault, e.answer.errcode, e.answer.status]), [
    ['errcode=45009', 45009, 200], ['reset', null, null], [null, 0, 200],
  ]);
  assert.deepEqual(emu.faults.list().map((rule) => rule.fired), [1, 1]);
});

test('a lost answer (reset after handling): the upload is stored, the app sees a reset, and its retry stores a second media', async () => {
  emu.faults.add({ path: '/media/upload', kind: 'reset', afterHandling: true, times: 1 });
  const png = sample('png');
  await assert.rejects(upload(emu.baseUrl, token, 'image', png, 'photo.png'));
  const second = await upload(emu.baseUrl, token, 'image', png, 'photo.png');
  assert.equal(second.errcode, 0);
  const [lost, retried] = emu.requests.list({ path: '/media/upload' });
  assert.equal(lost!.answer.status, null, 'no answer reached the client');
  assert.equal(lost!.answer.errcode, 0, 'but the upload was handled');
  assert.match(lost!.answer.mediaId!, /^@/);
  assert.notEqual(lost!.answer.mediaId, retried!.answer.mediaId);
  // The lost one is stored: the app could find it (it is the org's media) although it never got its id.
  const { bytes } = await downloadBytes(emu.baseUrl, token, lost!.answer.mediaId!);
  assert.equal(sha256(bytes), sha256(png));
});

test('errcode faults answer in each wire\'s own shape, with the table\'s message and HTTP status, or the status given', async () => {
  emu.faults.add({ path: '/gettoken', errcode: 45009, times: 1 });
  const dingtalk = await fetch(`${emu.baseUrl}/gettoken?appkey=dingoapiemulator&appsecret=oapi-media-emulator-secret`);
  assert.equal(dingtalk.status, 200);
  const body = await dingtalk.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['errcode', 'errmsg', 'request_id']);
  assert.equal(body.errcode, 45009);
  assert.equal(body.errmsg, '接口调用超过限制');

  const wecom = await fetch(`${emu.baseUrl}/cgi-bin/gettoken?corpid=wwoapiemulator&corpsecret=oapi-media-emulator-secret`, { headers: { 'x-oapi-fault': 'errcode=-1,status=503' } });
  assert.equal(wecom.status, 503);
  const wecomBody = await wecom.json() as { errcode: number; errmsg: string };
  assert.equal(wecomBody.errcode, -1);
  assert.match(wecomBody.errmsg, /hint: \[\d+_0_[0-9a-f]{32}\].*more info at https:\/\/open\.work\.weixin\.qq\.com\/devtool\/query\?e=-1$/);

  const feishu = await fetch(`${emu.baseUrl}/open-apis/auth/v3/tenant_access_token/internal`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-oapi-fault': 'errcode=99991400' }, body: JSON.stringify({ app_id: 'cli_oapiemulator', app_secret: 'oapi-media-emulator-secret' }),
  });
  assert.equal(feishu.status, 429, 'Feishu\'s rate limit is HTTP 429');
  const feishuBody = await feishu.json() as { code: number; msg: string; error: { log_id: string } };
  assert.equal(feishuBody.code, 99991400);
  assert.equal(feishuBody.error.log_id, feishu.headers.get('x-request-id'));

  // A code the wire's table does not have: the code itself, in the wire's shape.
  const unknown = await (await fetch(`${emu.baseUrl}/gettoken?appkey=x&appsecret=y`, { headers: { 'x-oapi-fault': 'errcode=88888' } })).json() as Record<string, unknown>;
  assert.equal(unknown.errcode, 88888);
  assert.equal(typeof unknown.errmsg, 'string');
});

test('delay, empty, close, gateway413 and stall each do what a flaky platform does', async () => {
  const tokenUrl = `${emu.baseUrl}/gettoken?appkey=dingoapiemulator&appsecret=oapi-media-emulator-secret`;
  const started = performance.now();
  const delayed = await fetch(tokenUrl, { headers: { 'x-oapi-fault': 'delay=300' } });
  assert.ok(performance.now() - started >= 290, 'answered after the delay');
  assert.equal((await delayed.json() as { errcode: number }).errcode, 0, 'then answered normally');

  const empty = await fetch(tokenUrl, { headers: { 'x-oapi-fault': 'empty' } });
  assert.equal(empty.status, 200);
  assert.equal(await empty.text(), '');

  await assert.rejects(fetch(tokenUrl, { headers: { 'x-oapi-fault': 'close' } }), (error: Error) => error instanceof TypeError);

  const gateway = await fetch(tokenUrl, { headers: { 'x-oapi-fault': 'gateway413' } });
  assert.equal(gateway.status, 413);
  assert.match(gateway.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(await gateway.text(), /<title>413 Request Entity Too Large<\/title>[\s\S]*nginx/);

  // Stalled: the client's own timeout fires (the emulator never answers).
  await assert.rejects(fetch(tokenUrl, { headers: { 'x-oapi-fault': 'stall' }, signal: AbortSignal.timeout(300) }), (error: Error) => error.name === 'TimeoutError');
  assert.deepEqual(emu.requests.list().map((e) => e.fault), ['delay=300', 'empty', 'close', 'gateway413', 'stall']);
});

test('rules match path prefix, method, app and media type; times and unlimited; GET and DELETE list and remove them', async () => {
  const wrongApp = emu.faults.add({ path: '/media/*', app: 'dingoapiemulator2', errcode: 40014 });
  const videoOnly = emu.faults.add({ path: '/media/upload', mediaType: 'video', errcode: 45009 });
  const png = sample('png');
  assert.equal((await upload(emu.baseUrl, token, 'image', png, 'a.png')).errcode, 0, 'neither rule matches an image of the first org');
  assert.equal((await upload(emu.baseUrl, token, 'video', sample('mp4'), 'a.mp4')).errcode, 45009);
  assert.equal((await upload(emu.baseUrl, token, 'video', sample('mp4'), 'a.mp4')).errcode, 45009, 'no times: every time');
  const otherToken = await getToken(emu.baseUrl, emu.credentials.dingtalk2.appkey, emu.credentials.dingtalk2.appsecret);
  assert.equal((await upload(emu.baseUrl, otherToken, 'image', png, 'a.png')).errcode, 40014, 'the app is known from its token');

  const listed = await (await fetch(`${emu.baseUrl}/__oapi/faults`)).json() as { faults: { id: number; fired: number }[] };
  assert.deepEqual(listed.faults.map((f) => [f.id, f.fired]), [[wrongApp.id, 1], [videoOnly.id, 2]]);
  assert.equal((await fetch(`${emu.baseUrl}/__oapi/faults/${videoOnly.id}`, { method: 'DELETE' })).status, 200);
  assert.equal((await fetch(`${emu.baseUrl}/__oapi/faults/${videoOnly.id}`, { method: 'DELETE' })).status, 404);
  assert.equal((await upload(emu.baseUrl, token, 'video', sample('mp4'), 'a.mp4')).errcode, 0);
  const cleared = await (await fetch(`${emu.baseUrl}/__oapi/faults`, { method: 'DELETE' })).json() as { removed: number };
  assert.equal(cleared.removed, 1);

  // Over HTTP, as a test in another language adds one; a bad rule is refused and says why.
  const added = await fetch(`${emu.baseUrl}/__oapi/faults`, { method: 'POST', body: JSON.stringify({ path: '/gettoken', method: 'get', errcode: 40001, times: 1 }) });
  assert.equal(added.status, 201);
  assert.equal(((await (await fetch(`${emu.baseUrl}/gettoken?appkey=a&appsecret=b`)).json()) as { errcode: number }).errcode, 40001);
  for (const bad of [{ kind: 'explode' }, { errcode: 'x' }, { path: '/x', probability: 2, errcode: 1 }, { kind: 'errcode' }, { kind: 'empty', afterHandling: true }, [1]]) {
    const refused = await fetch(`${emu.baseUrl}/__oapi/faults`, { method: 'POST', body: JSON.stringify(bad) });
    assert.equal(refused.status, 400, JSON.stringify(bad));
    assert.match(((await refused.json()) as { error: string }).error, /\w/);
  }
  const badHeader = await fetch(`${emu.baseUrl}/gettoken`, { headers: { 'x-oapi-fault': 'explode' } });
  assert.equal(badHeader.status, 400);
  assert.match(((await badHeader.json()) as { error: string }).error, /X-Oapi-Fault: unknown "explode"/);
});

test('a probability fires the same calls run after run under the same seed', async () => {
  const pattern = async (seed: number): Promise<number[]> => {
    const one = await startEmulator({ seed });
    try {
      one.faults.add({ path: '/gettoken', errcode: 45009, probability: 0.5 });
      const codes: number[] = [];
      for (let i = 0; i < 24; i++) {
        codes.push(((await (await fetch(`${one.baseUrl}/gettoken?appkey=dingoapiemulator&appsecret=oapi-media-emulator-secret`)).json()) as { errcode: number }).errcode);
      }
      return codes;
    } finally {
      await one.close();
    }
  };
  const first = await pattern(11);
  assert.deepEqual(await pattern(11), first);
  const fired = first.filter((code) => code === 45009).length;
  assert.ok(fired > 0 && fired < 24, `about half fire: ${fired} of 24`);
  assert.notDeepEqual(await pattern(12), first, 'another seed, another pattern');
});

test('the journal: method, path, masked secrets, app, each form part with size and sha256, the answer; filters, DELETE and its bound', async () => {
  const png = sample('png');
  const { contentType, body } = multipartBody([
    { name: 'type', value: 'image' },
    { name: 'media', data: png, filename: '头像.png', contentType: 'image/png' },
    { name: 'extra', data: Buffer.from('not stored'), filename: 'notes.txt', contentType: 'text/plain' },
  ]);
  const answer = await (await fetch(`${emu.baseUrl}/media/upload?access_token=${token}`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) })).json() as { media_id: string };
  const [entry] = emu.requests.list({ path: '/media/upload' });
  assert.equal(entry!.method, 'POST');
  assert.equal(entry!.wire, 'dingtalk');
  assert.equal(entry!.app, 'dingoapiemulator');
  assert.deepEqual(entry!.query, { access_token: '***' });
  assert.deepEqual(entry!.form, [
    { field: 'type', value: 'image', declaredType: 'text/plain' },
    { field: 'media', fileName: '头像.png', declaredType: 'image/png', media: true, size: png.length, sha256: sha256(png) },
    { field: 'extra', fileName: 'notes.txt', declaredType: 'text/plain', size: 10, sha256: sha256(Buffer.from('not stored')) },
  ]);
  assert.deepEqual(entry!.answer, { status: 200, errcode: 0, mediaId: answer.media_id, hint: null });
  assert.equal(JSON.stringify(emu.requests.list()).includes(token), false, 'the token is never in the journal');

  await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${token}&media_id=@nosuchmediaidnosuchmedia`);
  const overHttp = await (await fetch(`${emu.baseUrl}/__oapi/requests?errcode=40007`)).json() as { requests: { path: string; answer: { mediaId: string } }[]; limit: number };
  assert.deepEqual(overHttp.requests.map((e) => [e.path, e.answer.mediaId]), [['/media/downloadFile', '@nosuchmediaidnosuchmedia']]);
  assert.equal(overHttp.limit, 1000, 'the documented default bound');
  assert.equal(((await (await fetch(`${emu.baseUrl}/__oapi/requests?path=/media/*&limit=1`)).json()) as { requests: unknown[] }).requests.length, 1);
  assert.equal(((await (await fetch(`${emu.baseUrl}/__oapi/requests?app=dingoapiemulator2`)).json()) as { requests: unknown[] }).requests.length, 0);
  const cleared = await (await fetch(`${emu.baseUrl}/__oapi/requests`, { method: 'DELETE' })).json() as { cleared: number };
  assert.equal(cleared.cleared, 2);
  assert.equal(emu.requests.list().length, 0);
  assert.equal((await fetch(`${emu.baseUrl}/__oapi/requests?limit=x`)).status, 400);

  const small = await startEmulator({ journalLimit: 3 });
  try {
    for (let i = 0; i < 5; i++) await fetch(`${small.baseUrl}/gettoken?appkey=k${i}&appsecret=s`);
    assert.deepEqual(small.requests.list().map((e) => [e.id, e.query.appkey]), [[3, 'k2'], [4, 'k3'], [5, 'k4']], 'the oldest go first');
  } finally {
    await small.close();
  }
});

test('a raw client that sends a body and is reset before it was read sees ECONNRESET', async () => {
  const { contentType, body } = multipartBody([{ name: 'media', data: Buffer.alloc(256 * 1024, 1), filename: 'big.png' }]);
  const outcome = await new Promise<string>((resolve) => {
    const req = httpRequest(`${emu.baseUrl}/media/upload?access_token=${token}&type=image`, {
      method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length, 'x-oapi-fault': 'reset' },
    }, (response) => resolve(`answered ${response.statusCode}`));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end(body);
  });
  assert.match(outcome, /^(ECONNRESET|EPIPE)$/);
});
