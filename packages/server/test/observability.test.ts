// Logs, request ids, health, metrics and the generated OpenAPI document.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { sample } from './fixtures/samples.ts';
import { multipart } from './helpers/multipart.ts';
import { openServices, type Services } from '../src/composition-root.ts';
import type { FastifyInstance } from 'fastify';

const lines: Record<string, unknown>[] = [];
let services: Services;
let app: FastifyInstance;
let dataDir: string;
let creds: { appkey: string; appsecret: string };

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-obs-'));
  services = await openServices(loadConfig({ dataDir }, {}));
  creds = (await services.admin.bootstrapDefault())!;
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  app = await buildApp(services, { logger: pino({ level: 'info' }, sink) });
});
after(async () => {
  await app.close();
  await services.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('logs are JSON lines carrying the request id of the answer, and never a secret', async () => {
  const res = await app.inject({ url: `/gettoken?appkey=${creds.appkey}&appsecret=${creds.appsecret}`, headers: { 'x-request-id': 'trace-42' } });
  const token = res.json().access_token as string;
  await app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=@nope`, headers: { 'x-request-id': 'trace-43' } });
  const all = JSON.stringify(lines);
  assert.ok(lines.some((l) => l.reqId === 'trace-42'), 'request id in the log');
  assert.ok(lines.some((l) => l.reqId === 'trace-43' && l.errcode === 40007), 'refusal logged with its errcode');
  assert.equal(all.includes(creds.appsecret), false, 'appsecret in logs');
  assert.equal(all.includes(token), false, 'token in logs');
  assert.match(all, /appsecret=\[redacted\]/);
  // One line per request: method, masked URL, client address, status and time.
  const line = lines.find((l) => l.reqId === 'trace-43') as { req?: Record<string, unknown>; res?: Record<string, unknown>; responseTime?: unknown };
  assert.deepEqual(line.req, { method: 'GET', url: '/media/downloadFile?access_token=[redacted]&media_id=@nope', remoteAddress: '127.0.0.1' });
  assert.deepEqual(line.res, { statusCode: 200 });
  assert.equal(typeof line.responseTime, 'number');
  assert.equal(lines.filter((l) => l.reqId === 'trace-43').length, 1, 'one line per request');
});

test('percent-encoded secret parameter names are answered as the plain ones, and masked in the log all the same', async () => {
  const res = await app.inject({ url: `/gettoken?appkey=${creds.appkey}&app%73ecret=${creds.appsecret}`, headers: { 'x-request-id': 'trace-44' } });
  assert.equal(res.json().errcode, 0, 'the route reads app%73ecret as appsecret');
  const token = res.json().access_token as string;
  await app.inject({ url: `/media/get?access%5Ftoken=${token}&media_id=@nope`, headers: { 'x-request-id': 'trace-45' } });
  const logged = JSON.stringify(lines.filter((l) => l.reqId === 'trace-44' || l.reqId === 'trace-45'));
  assert.equal(logged.includes(creds.appsecret), false, 'appsecret in logs');
  assert.equal(logged.includes(token), false, 'token in logs');
  assert.match(logged, /appsecret=\[redacted\]/);
  assert.match(logged, /access_token=\[redacted\]/);
});

test('a server fault is logged as an error with the request id; the caller gets only errcode -1', async () => {
  const original = services.tokens.verify;
  services.tokens.verify = async () => { throw new Error('disk on fire'); };
  try {
    const res = await app.inject({ url: '/media/downloadFile?access_token=x', headers: { 'x-request-id': 'trace-500' } });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().request_id, 'trace-500');
    const logged = lines.find((l) => l.reqId === 'trace-500' && l.level === 50) as { err?: { message?: string } } | undefined;
    assert.equal(logged?.err?.message, 'disk on fire');
  } finally {
    services.tokens.verify = original;
  }
});

test('/healthz and /readyz answer 200 when database and storage are reachable', async () => {
  assert.deepEqual((await app.inject({ url: '/healthz' })).json(), { status: 'ok' });
  const ready = await app.inject({ url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ready', failing: [] });
});

test('/metrics is Prometheus text counting requests by HTTP status and errcode', async () => {
  const res = await app.inject({ url: '/metrics' });
  assert.match(res.headers['content-type'] as string, /text\/plain/);
  assert.match(res.body, /oapi_media_requests_total\{route="\/media\/downloadFile",method="GET",status="200",errcode="40007"\} 1/);
});

test('/metrics: bytes stored by type and bytes sent, uploads reading and waiting, Node\'s own metrics under their stock names', async () => {
  const token = (await app.inject({ url: `/gettoken?appkey=${creds.appkey}&appsecret=${creds.appsecret}` })).json().access_token as string;
  const png = sample('png');
  const { body, contentType } = multipart([{ name: 'media', filename: 'a.png', data: png }]);
  const up = (await app.inject({ method: 'POST', url: `/media/upload?access_token=${token}&type=image`, headers: { 'content-type': contentType }, payload: body })).json();
  assert.equal(up.errcode, 0);
  const before = await app.inject({ url: '/metrics' });
  const sentBefore = Number(/^oapi_media_sent_bytes_total (\d+)/m.exec(before.body)?.[1]);
  await app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=${up.media_id}`, headers: { range: 'bytes=0-9' } });
  await app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=${up.media_id}` });
  const text = (await app.inject({ url: '/metrics' })).body;
  assert.match(text, new RegExp(`^oapi_media_stored_bytes_total\\{type="image"\\} ${png.length}$`, 'm'));
  assert.equal(Number(/^oapi_media_sent_bytes_total (\d+)/m.exec(text)?.[1]) - sentBefore, 10 + png.length);
  assert.match(text, /^oapi_media_uploads_reading 0$/m);
  assert.match(text, /^oapi_media_uploads_waiting 0$/m);
  assert.match(text, /^process_cpu_seconds_total /m);
  assert.match(text, /^nodejs_heap_size_used_bytes /m);
  assert.doesNotMatch(text, /^oapi_media_process_/m);
});

test('/openapi.json is an OpenAPI 3 document generated from the routes', async () => {
  const doc = (await app.inject({ url: '/openapi.json' })).json();
  assert.match(doc.openapi, /^3\./);
  for (const path of ['/gettoken', '/media/upload', '/media/downloadFile', '/media/get', '/healthz', '/readyz']) {
    assert.ok(doc.paths[path], `${path} documented`);
  }
  const upload = doc.paths['/media/upload'].post;
  const params = upload.parameters.map((p: { name: string }) => p.name).sort();
  // access_token is the security scheme (apiKey in the query), not a parameter of its own.
  assert.deepEqual(params, ['type']);
  assert.deepEqual(upload.security, [{ accessToken: [] }]);
  assert.deepEqual(upload.parameters.find((p: { name: string }) => p.name === 'type').schema.enum, ['image', 'voice', 'video', 'file']);
  assert.equal(doc.paths['/openapi.json'], undefined, 'the document does not list itself');
});

test('/openapi.json passes Redocly\'s recommended rules with no error or warning, and describes the bodies', async () => {
  const source = (await app.inject({ url: '/openapi.json' })).body;
  const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config: await createConfig({ extends: ['recommended'] }) });
  assert.deepEqual(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`), []);
  const doc = JSON.parse(source);
  const upload = doc.paths['/media/upload'].post.requestBody.content['multipart/form-data'].schema;
  assert.deepEqual(upload.properties.media, { type: 'string', format: 'binary', description: 'the file; its file name is kept for downloads' });
  assert.deepEqual(upload.required, ['media']);
  assert.ok(doc.paths['/service/get_corp_token'].post.requestBody.content['application/json'].schema.properties.auth_corpid);
  const download = doc.paths['/media/downloadFile'].get;
  assert.deepEqual(Object.keys(download.responses[200].content).sort(), ['application/json', 'application/octet-stream']);
  assert.ok(download.responses[206].headers['content-range']);
  assert.deepEqual(download.security, [{ accessToken: [] }]);
  assert.equal(doc.components.securitySchemes.accessToken.name, 'access_token');
  const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops as Record<string, { operationId: string }>).map((op) => op.operationId));
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
});

test('/docs serves the API description for people, with its assets from npm (no CDN)', async () => {
  const page = await app.inject({ url: '/docs/' });
  assert.equal(page.statusCode, 200);
  assert.match(page.headers['content-type'] as string, /text\/html/);
  assert.doesNotMatch(page.body, /https?:\/\/(?!127\.0\.0\.1|localhost)[a-z0-9.-]+\.[a-z]{2,}\/[^"']*\.(js|css)/i, 'no script or style from another host');
  const scripts = [...page.body.matchAll(/src="\.?\/?([^"]+\.js)"/g)].map((m) => m[1]!);
  assert.ok(scripts.length > 0, page.body.slice(0, 400));
  for (const script of scripts) {
    const asset = await app.inject({ url: `/docs/${script.replace(/^\.\//, '')}` });
    assert.equal(asset.statusCode, 200, script);
  }
  const json = await app.inject({ url: '/docs/json' });
  assert.equal(json.json().openapi, '3.0.3');
});

test('the sample Grafana dashboard (docs/grafana-dashboard.json) names only metrics the server exports', async () => {
  const dashboard = JSON.parse(await readFile(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
    panels: Array<{ targets: Array<{ expr: string }> }>;
  };
  const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
  const named = new Set(exprs.flatMap((expr) => expr.match(/\b(?:oapi_media|process|nodejs)_[a-z0-9_]+\b/g) ?? []));
  assert.ok(named.size >= 8, `the dashboard names ${named.size} metrics`);
  const exported = new Set([...(await app.inject({ url: '/metrics' })).body.matchAll(/^([a-z_][a-z0-9_]*)(?:\{| )/gm)].map((m) => m[1]!));
  assert.deepEqual([...named].filter((name) => !exported.has(name)), [], 'named by the dashboard, not exported');
});
