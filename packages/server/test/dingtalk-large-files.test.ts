// DingTalk's large-file API against a real listening server (api.md "Large files", issue 18): a
// 100 MiB file round-trips byte-exact through the chunked upload; /file/upload/single; parameters
// in the query or as form fields, the part named file or media; the '#' namespace; a retried chunk;
// and the exact errcode of every bad input, each leaving no row, no blob and no temp file behind.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, the operator CLI and the data folder).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { DINGTALK_ERRORS } from '@oapi-media/core';
import { TUS_STATUS } from '../src/dialects/dingtalk/tus.ts';
import { assertNothingStored, storedState } from './helpers/data-folder.ts';
import { getToken, sha256, upload } from './helpers/e2e-http.ts';
import {
  CHUNK_MAX, CHUNK_MIN, chunkedUpload, commitTransaction, largeFileUrl, openTransaction, postForm, sendChunk,
} from './helpers/large-files.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';
import { sampleOfSize } from './fixtures/samples.ts';

const MiB = 1024 * 1024;

let server: TestServer;
let token: string;

before(async () => {
  server = await startTestServer();
  token = await getToken(server.baseUrl, server.appKey, server.appSecret);
});
after(async () => {
  await server.close();
});

async function downloadLarge(mediaId: string, headers: Record<string, string> = {}): Promise<{ response: Response; bytes: Buffer }> {
  const response = await fetch(largeFileUrl(server.baseUrl, token, mediaId), { headers });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

async function open(fileSize: number, chunks: number): Promise<string> {
  const answer = await openTransaction(server.baseUrl, { access_token: token, file_size: String(fileSize), chunk_numbers: String(chunks) });
  assert.equal(answer.errcode, 0, JSON.stringify(answer));
  assert.match(answer.upload_id!, /^[A-Za-z0-9_-]{32}$/);
  return answer.upload_id!;
}

describe('DingTalk chunked upload: round trips', () => {
  test('a 100 MiB file in 8 MiB chunks (two at a time) downloads byte-exact, with Range', async () => {
    const data = randomBytes(100 * MiB);
    const committed = await chunkedUpload(server.baseUrl, token, data, CHUNK_MAX, 2, 'big.bin');
    assert.equal(committed.errcode, 0, JSON.stringify(committed));
    assert.equal(committed.errmsg, 'ok');
    assert.match(committed.media_id!, /^#[A-Za-z0-9_-]{16,64}$/);
    const { response, bytes } = await downloadLarge(committed.media_id!);
    assert.equal(response.status, 200);
    assert.equal(bytes.length, data.length);
    assert.equal(sha256(bytes), sha256(data));
    assert.equal(response.headers.get('etag'), `"${sha256(data)}"`);
    assert.match(response.headers.get('content-disposition') ?? '', /big\.bin/);
    const ranged = await downloadLarge(committed.media_id!, { range: `bytes=${50 * MiB}-${50 * MiB + 99}` });
    assert.equal(ranged.response.status, 206);
    assert.deepEqual(ranged.bytes, data.subarray(50 * MiB, 50 * MiB + 100));
  });

  test('the commit goes through sniffing: a PDF sent in chunks is served as application/pdf', async () => {
    const pdf = sampleOfSize('pdf', 300 * 1024);
    const answer = await chunkedUpload(server.baseUrl, token, pdf, CHUNK_MIN, 1);
    assert.equal(answer.errcode, 0, JSON.stringify(answer));
    const { response, bytes } = await downloadLarge(answer.media_id!);
    assert.equal(response.headers.get('content-type'), 'application/pdf');
    assert.equal(sha256(bytes), sha256(pdf));
  });

  test('parameters as form fields and the part named media (the Go template\'s way)', async () => {
    const data = randomBytes(CHUNK_MIN + 5);
    const uploadId = await open(data.length, 2);
    for (const [seq, part] of [[1, data.subarray(0, CHUNK_MIN)], [2, data.subarray(CHUNK_MIN)]] as const) {
      const answer = await postForm(server.baseUrl, '/file/upload/chunk', {}, [
        { name: 'access_token', value: token }, { name: 'agent_id', value: '1' }, { name: 'upload_id', value: uploadId },
        { name: 'chunk_sequence', value: String(seq) }, { name: 'media', data: part, filename: 'part' },
      ]);
      assert.deepEqual(answer, { errcode: 0, errmsg: 'ok' });
    }
    const committed = await commitTransaction(server.baseUrl, { access_token: token, upload_id: uploadId });
    assert.equal(committed.errcode, 0, JSON.stringify(committed));
    assert.equal(sha256((await downloadLarge(committed.media_id!)).bytes), sha256(data));
  });

  test('chunks may arrive in any order; a retried chunk with the same bytes is ok; a commit sent again answers the same media_id', async () => {
    const data = randomBytes(2 * CHUNK_MIN + 10);
    const uploadId = await open(data.length, 3);
    assert.equal((await sendChunk(server.baseUrl, token, uploadId, 3, data.subarray(2 * CHUNK_MIN))).errcode, 0);
    assert.equal((await sendChunk(server.baseUrl, token, uploadId, 1, data.subarray(0, CHUNK_MIN))).errcode, 0);
    assert.equal((await sendChunk(server.baseUrl, token, uploadId, 1, data.subarray(0, CHUNK_MIN))).errcode, 0);
    assert.equal((await sendChunk(server.baseUrl, token, uploadId, 1, randomBytes(CHUNK_MIN))).errcode, 45022);
    assert.equal((await sendChunk(server.baseUrl, token, uploadId, 2, data.subarray(CHUNK_MIN, 2 * CHUNK_MIN))).errcode, 0);
    const query = { access_token: token, file_size: String(data.length), chunk_numbers: '3', upload_id: uploadId };
    const first = await commitTransaction(server.baseUrl, query);
    assert.equal(first.errcode, 0, JSON.stringify(first));
    const again = await commitTransaction(server.baseUrl, query);
    assert.deepEqual(again, first);
    assert.equal(sha256((await downloadLarge(first.media_id!)).bytes), sha256(data));
  });

  test('/file/upload/single: part file or media, up to 8 MiB, a # id', async () => {
    for (const part of ['file', 'media']) {
      const data = randomBytes(1000);
      const answer = await postForm(server.baseUrl, '/file/upload/single', { access_token: token, agent_id: '1', file_size: '1000' }, [
        { name: part, data, filename: 'one.bin' },
      ]);
      assert.equal(answer.errcode, 0, JSON.stringify(answer));
      assert.match(answer.media_id!, /^#/);
      assert.equal(sha256((await downloadLarge(answer.media_id!)).bytes), sha256(data));
    }
    const limit = randomBytes(8 * MiB);
    const atLimit = await postForm(server.baseUrl, '/file/upload/single', { access_token: token }, [{ name: 'file', data: limit, filename: 'l.bin' }]);
    assert.equal(atLimit.errcode, 0, JSON.stringify(atLimit));
  });

  test('the namespaces: a # id to /media/downloadFile and an @ id to /file/download both answer 40007', async () => {
    const single = await postForm(server.baseUrl, '/file/upload/single', { access_token: token }, [{ name: 'file', data: randomBytes(10), filename: 'x' }]);
    const media = await upload(server.baseUrl, token, 'image', sampleOfSize('png', 200), 'x.png');
    assert.equal(media.errcode, 0);
    const viaMedia = await fetch(`${server.baseUrl}/media/downloadFile?${new URLSearchParams({ access_token: token, media_id: single.media_id! })}`);
    assert.equal(((await viaMedia.json()) as { errcode: number }).errcode, 40007);
    const viaFile = await fetch(largeFileUrl(server.baseUrl, token, media.media_id!));
    assert.equal(((await viaFile.json()) as { errcode: number }).errcode, 40007);
  });
});

describe('DingTalk chunked upload: every bad input has its errcode and stores nothing', () => {
  const chunkCode = async (uploadId: string, seq: number | string, data: Buffer, tokenUsed = token) =>
    (await postForm(server.baseUrl, '/file/upload/chunk', { access_token: tokenUsed, upload_id: uploadId, chunk_sequence: String(seq) }, [
      { name: 'file', data, filename: 'c' },
    ])).errcode;
  const openCode = async (query: Record<string, string>) => (await openTransaction(server.baseUrl, { access_token: token, ...query })).errcode;

  test('opening', async () => {
    const before = await storedState(server);
    assert.equal(await openCode({ chunk_numbers: '2' }), 40035, 'file_size missing');
    assert.equal(await openCode({ file_size: '100' }), 40035, 'chunk_numbers missing');
    assert.equal(await openCode({ file_size: 'ten', chunk_numbers: '1' }), 40006);
    assert.equal(await openCode({ file_size: '0', chunk_numbers: '1' }), 40006);
    assert.equal(await openCode({ file_size: String(5 * 1024 ** 3), chunk_numbers: '10000' }), 40006, 'past the 4 GiB chunked cap');
    assert.equal(await openCode({ file_size: '100', chunk_numbers: '0' }), 45021);
    assert.equal(await openCode({ file_size: String(20 * 1024 ** 3), chunk_numbers: '10001' }), 45021);
    assert.equal(await openCode({ file_size: String(8 * MiB + 1), chunk_numbers: '1' }), 45021, 'one chunk cannot carry more than 8 MiB');
    assert.equal(await openCode({ file_size: '1000', chunk_numbers: '2' }), 45021, 'two chunks cannot make 1000 bytes');
    assert.equal((await openTransaction(server.baseUrl, { access_token: 'nope', file_size: '1', chunk_numbers: '1' })).errcode, 40014);
    assert.equal((await openTransaction(server.baseUrl, { file_size: '1', chunk_numbers: '1' })).errcode, 41001);
    await assertNothingStored(server, before);
  });

  test('chunks', async () => {
    const uploadId = await open(CHUNK_MIN + 10, 2);
    const before = await storedState(server);
    assert.equal(await chunkCode('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 1, randomBytes(CHUNK_MIN)), 45020, 'unknown upload_id');
    assert.equal(await chunkCode('not-an-id', 1, randomBytes(CHUNK_MIN)), 45020);
    assert.equal(await chunkCode(uploadId, 0, randomBytes(CHUNK_MIN)), 45021, 'sequence 0 (1-based)');
    assert.equal(await chunkCode(uploadId, 3, randomBytes(10)), 45021, 'past chunk_numbers');
    assert.equal(await chunkCode(uploadId, 'x', randomBytes(10)), 45021);
    assert.equal(await chunkCode(uploadId, 1, randomBytes(CHUNK_MIN - 1)), 45021, 'a chunk but the last under 100 KiB');
    assert.equal(await chunkCode(uploadId, 1, randomBytes(CHUNK_MAX + 1)), 45021, 'over 8 MiB');
    assert.equal(await chunkCode(uploadId, 2, Buffer.alloc(0)), 45021, 'empty');
    assert.equal(await chunkCode(uploadId, 2, randomBytes(CHUNK_MIN + 11)), 45021, 'past file_size');
    assert.equal((await postForm(server.baseUrl, '/file/upload/chunk', { access_token: token, upload_id: uploadId, chunk_sequence: '1' }, [
      { name: 'other', value: 'x' },
    ])).errcode, 41005, 'no file part');
    assert.equal((await postForm(server.baseUrl, '/file/upload/chunk', { access_token: token, chunk_sequence: '1' }, [
      { name: 'file', data: randomBytes(10) },
    ])).errcode, 40035, 'no upload_id');
    const plain = await fetch(`${server.baseUrl}/file/upload/chunk?${new URLSearchParams({ access_token: token, upload_id: uploadId, chunk_sequence: '1' })}`, {
      method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(10),
    });
    assert.equal(((await plain.json()) as { errcode: number }).errcode, 43008);
    const wrongMethod = await fetch(`${server.baseUrl}/file/upload/chunk`);
    assert.equal(wrongMethod.status, 405);
    assert.equal(((await wrongMethod.json()) as { errcode: number }).errcode, 43002);
    const other = await server.createApp('other-org');
    const otherToken = await getToken(server.baseUrl, other.appKey, other.appSecret);
    assert.equal(await chunkCode(uploadId, 1, randomBytes(CHUNK_MIN), otherToken), 45020, 'another organization\'s upload_id');
    await assertNothingStored(server, before);
  });

  test('commits', async () => {
    const uploadId = await open(CHUNK_MIN + 10, 2);
    assert.equal(await chunkCode(uploadId, 1, randomBytes(CHUNK_MIN)), 0);
    const before = await storedState(server);
    const commit = async (query: Record<string, string>) => (await commitTransaction(server.baseUrl, { access_token: token, ...query })).errcode;
    assert.equal(await commit({ upload_id: uploadId }), 45023, 'chunk 2 missing');
    assert.equal(await commit({ upload_id: uploadId, file_size: '5' }), 45023, 'file_size other than opened');
    assert.equal(await commit({ upload_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), 45020);
    assert.equal((await fetch(`${server.baseUrl}/file/upload/transaction`, { method: 'POST' })).status, 405);
    const other = await server.createApp('other-org');
    const otherToken = await getToken(server.baseUrl, other.appKey, other.appSecret);
    assert.equal((await commitTransaction(server.baseUrl, { access_token: otherToken, upload_id: uploadId })).errcode, 45020);
    await assertNothingStored(server, before);
  });

  test('single uploads', async () => {
    const before = await storedState(server);
    const single = async (query: Record<string, string>, data: Buffer) =>
      (await postForm(server.baseUrl, '/file/upload/single', { access_token: token, ...query }, [{ name: 'file', data, filename: 's' }])).errcode;
    assert.equal(await single({}, randomBytes(8 * MiB + 1)), 40006);
    assert.equal(await single({ file_size: '11' }, randomBytes(10)), 45023);
    assert.equal(await single({}, Buffer.alloc(0)), 44001);
    assert.equal(await single({ access_token: 'bad' }, randomBytes(10)), 40014);
    await assertNothingStored(server, before);
  });
});

describe('api.md "Large files" says what the code answers', () => {
  const section = async () => {
    const text = await readFile(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    const start = text.indexOf('\n## Large files\n');
    assert.ok(start >= 0, 'api.md has a "Large files" section');
    return text.slice(start, text.indexOf('\n## ', start + 1));
  };
  const rows = (text: string, columns: number) => text.split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('|--'))
    .map((line) => line.slice(2, -2).split(' | ').map((cell) => cell.trim()))
    .filter((cells) => cells.length === columns && /^[-*\d]/.test(cells[0]!));

  test('the product\'s own errcodes 45020-45025: exactly those of DINGTALK_ERRORS, with their errmsg texts', async () => {
    const documented = rows(await section(), 3).map(([code, zh, en]) => [Number(code), zh, en]);
    const own = Object.values(DINGTALK_ERRORS).filter((a) => a.errcode >= 45020 && a.errcode <= 45029).map((a) => [a.errcode, a.zh, a.en]);
    assert.deepEqual(documented.sort(), own.sort());
  });

  test('each errcode\'s tus HTTP status in the table is the one tus.ts answers', async () => {
    const table = rows(await section(), 4);
    assert.ok(table.length >= 20, `found ${table.length} rows`);
    let checked = 0;
    for (const [codes, , , status] of table) {
      for (const code of codes!.replaceAll('*', '').split(', ').map(Number)) {
        for (const [kind, answered] of Object.entries(TUS_STATUS)) {
          if (DINGTALK_ERRORS[kind as keyof typeof DINGTALK_ERRORS].errcode !== code || status === '—') continue;
          assert.equal(Number.parseInt(status!, 10), answered, `errcode ${code} (${kind}): api.md says ${status}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 15, `${checked} statuses checked`);
  });
});
