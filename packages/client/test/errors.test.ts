// The SDK's errors share MediaClientError and carry a brand under Symbol.for('oapi-media.client.error'),
// so that the is…Error guards recognise them where `instanceof` cannot: an error made by a
// second copy of the package (two versions in one node_modules), or in another realm (a vm context).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import vm from 'node:vm';
import { transformSync } from 'esbuild';
import {
  DingTalkError, isDingTalkError, isMediaClientError, isNetworkError, isTimeoutError, MediaClientError, NetworkError, TimeoutError,
} from '../src/index.ts';

type ErrorsModule = typeof import('../src/errors.ts');

function samples(m: ErrorsModule) {
  return {
    dingtalk: new m.DingTalkError({ errcode: 40005, errmsg: '不合法的文件类型', httpStatus: 200 }),
    network: new m.NetworkError('GET /gettoken failed', { code: 'ECONNRESET' }),
    timeout: new m.TimeoutError('POST /media/upload', 250),
  };
}

function assertRecognised(errors: ReturnType<typeof samples>) {
  const guards = { dingtalk: isDingTalkError, network: isNetworkError, timeout: isTimeoutError };
  for (const [kind, error] of Object.entries(errors)) {
    assert.equal(isMediaClientError(error), true, kind);
    assert.equal(error.kind, kind);
    for (const [guardKind, guard] of Object.entries(guards)) assert.equal(guard(error), guardKind === kind, `${guardKind} guard on a ${kind} error`);
  }
}

test('errors: every SDK error is a MediaClientError with a stable kind, and an Error with its own name', () => {
  const errors = samples({ DingTalkError, NetworkError, TimeoutError } as ErrorsModule);
  assertRecognised(errors);
  for (const error of Object.values(errors)) {
    assert.ok(error instanceof MediaClientError);
    assert.ok(error instanceof Error);
  }
  assert.equal(errors.dingtalk.name, 'DingTalkError');
  assert.equal(errors.network.name, 'NetworkError');
  assert.equal(errors.timeout.name, 'TimeoutError');
  assert.equal(errors.timeout.message, 'POST /media/upload timed out after 250 ms');
  assert.equal(errors.timeout.timeoutMs, 250);
  // The brand is there, under the registry symbol, but not enumerable (JSON and logs stay as they were).
  assert.equal((errors.network as unknown as Record<symbol, unknown>)[Symbol.for('oapi-media.client.error')], 'network');
  assert.ok(!Object.keys(errors.network).some((k) => k.includes('oapi')));
  for (const notOurs of [new Error('x'), new TypeError('y'), null, undefined, 'dingtalk', { kind: 'dingtalk' }, Object.assign(new Error(), { errcode: 40005 })]) {
    assert.equal(isMediaClientError(notOurs), false, String(notOurs));
    assert.equal(isDingTalkError(notOurs), false);
  }
});

test('errors: a second copy of the module (another import URL) makes errors instanceof cannot see; the guards do', async () => {
  const copy = (await import(`../src/errors.ts?copy=${Date.now()}`)) as ErrorsModule;
  assert.notEqual(copy.DingTalkError, DingTalkError, 'a distinct copy of the classes');
  const errors = samples(copy);
  assert.equal(errors.dingtalk instanceof DingTalkError, false);
  assert.equal(errors.dingtalk instanceof MediaClientError, false);
  assertRecognised(errors);
  // And the other way round: the copy's guards recognise this copy's errors.
  assert.equal(copy.isDingTalkError(new DingTalkError({ errcode: 40014, errmsg: '不合法的access_token', httpStatus: 200 })), true);
  assert.equal(copy.isTimeoutError(new TimeoutError('x', 1)), true);
});

test('errors: errors made in another realm (a vm context, its own Error) are recognised by the guards', async () => {
  const source = await readFile(new URL('../src/errors.ts', import.meta.url), 'utf8');
  const { code } = transformSync(source, { loader: 'ts', format: 'cjs', target: 'es2022' });
  const context = vm.createContext({ module: { exports: {} } });
  vm.runInContext(`(function (module, exports) {${code}\n})(module, module.exports)`, context);
  const realm = (context.module as { exports: ErrorsModule }).exports;
  const errors = samples(realm);
  assert.equal(errors.network instanceof Error, false, 'another realm: not even instanceof this realm\'s Error');
  assertRecognised(errors);
  assert.equal(errors.dingtalk.errcode, 40005);
});
