// Log redaction: the query as the routes read it, values kept only for harmless parameters.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../src/http/redact.ts';

test('secret parameters are masked, harmless ones kept', () => {
  assert.equal(redactUrl('/gettoken?appkey=ding1&appsecret=S3CRET'), '/gettoken?appkey=ding1&appsecret=[redacted]');
  assert.equal(redactUrl('/media/downloadFile?access_token=T0K&media_id=@abc'), '/media/downloadFile?access_token=[redacted]&media_id=@abc');
});

test('percent-encoded names are the names the routes read: app%73ecret and access%5Ftoken are masked', () => {
  const logged = redactUrl('/gettoken?appkey=K&app%73ecret=S3CRET&access%5Ftoken=T0K&corp%73ecret=C');
  assert.equal(logged.includes('S3CRET'), false, logged);
  assert.equal(logged.includes('T0K'), false, logged);
  assert.equal(logged.includes('=C'), false, logged);
  assert.equal(logged, '/gettoken?appkey=K&appsecret=[redacted]&access_token=[redacted]&corpsecret=[redacted]');
});

test('an unknown parameter\'s value is masked (allow-list), and so is an odd name', () => {
  assert.equal(redactUrl('/x?password=hunter2&type=image'), '/x?password=[redacted]&type=image');
  assert.equal(redactUrl('/x?hunter%202=1'), '/x?[redacted]');
});

test('repeated parameters are each masked; no query, no change; a fragment is dropped', () => {
  assert.equal(redactUrl('/gettoken?appsecret=a&appsecret=b'), '/gettoken?appsecret=[redacted]&appsecret=[redacted]');
  assert.equal(redactUrl('/healthz'), '/healthz');
  assert.equal(redactUrl('/x?access_token=t#frag'), '/x?access_token=[redacted]');
});

test('a published image\'s URL key (WeCom uploadimg: whoever has it reads the image) is masked in the path, under any prefix', () => {
  const key = 'Qm7xYk1-_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567';
  assert.equal(redactUrl(`/cgi-bin/media/img/${key}`), '/cgi-bin/media/img/[redacted]');
  assert.equal(redactUrl(`/wx/cgi-bin/media/img/${key}?x=1`), '/wx/cgi-bin/media/img/[redacted]?x=[redacted]');
  assert.equal(redactUrl('/cgi-bin/media/get?media_id=1abc&access_token=t'), '/cgi-bin/media/get?media_id=1abc&access_token=[redacted]');
});
