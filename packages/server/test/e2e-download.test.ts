// GET /media/downloadFile (alias /media/get) against a real listening server: the headers of
// api.md, Content-Disposition for hostile and non-ASCII names, Range (206/416), If-None-Match (304),
// HEAD, organization isolation, and many concurrent downloads of a large file.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP and the operator CLI).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { sample, sampleOfSize } from './fixtures/samples.ts';
import { downloadBytes, downloadUrl, getToken, sha256, tokenOf, uploadParts, type FormPart } from './helpers/e2e-http.ts';
import { rawHead } from './helpers/raw-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

let server: TestServer;
let token: string;

const SIZE = 5000;
const pdf = sampleOfSize('pdf', SIZE);
let pdfId: string;
let pdfCreatedAt: number;

async function store(type: string, data: Buffer, part: Omit<FormPart & { data: Uint8Array }, 'name' | 'data'>): Promise<{ mediaId: string; createdAt: number }> {
  const answer = await uploadParts(server.baseUrl, { access_token: token, type }, [{ name: 'media', data, ...part }]);
  assert.equal(answer.errcode, 0, JSON.stringify(answer));
  return { mediaId: answer.media_id!, createdAt: answer.created_at! };
}

function get(mediaId: string, headers: Record<string, string> = {}, path?: string): Promise<Response> {
  return fetch(downloadUrl(server.baseUrl, token, mediaId, path), { headers });
}

before(async () => {
  server = await startTestServer();
  token = await tokenOf(server);
  ({ mediaId: pdfId, createdAt: pdfCreatedAt } = await store('file', pdf, { filename: 'plain.pdf' }));
});
after(async () => {
  await server.close();
});

describe('headers of a 200 download (api.md)', () => {
  let response: Response;
  let body: Buffer;
  before(async () => {
    ({ response, bytes: body } = await downloadBytes(server.baseUrl, token, pdfId));
  });

  test('body is the uploaded bytes', () => {
    assert.equal(sha256(body), sha256(pdf));
  });
  test('ETag is strong and is the quoted sha256 hex of the bytes', () => {
    assert.equal(response.headers.get('etag'), `"${sha256(pdf)}"`);
  });
  test('Content-Type is the detected format, Content-Length the size', () => {
    assert.equal(response.headers.get('content-type'), 'application/pdf');
    assert.equal(response.headers.get('content-length'), String(SIZE));
  });
  test('Last-Modified is the upload time as an HTTP date (second precision)', () => {
    const lastModified = response.headers.get('last-modified');
    assert.ok(lastModified, 'Last-Modified present');
    assert.match(lastModified, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.equal(Date.parse(lastModified), Math.floor(pdfCreatedAt / 1000) * 1000);
  });
  test('Accept-Ranges: bytes and X-Content-Type-Options: nosniff', () => {
    assert.equal(response.headers.get('accept-ranges'), 'bytes');
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  });
  test('Content-Disposition: attachment with the original name', () => {
    assert.equal(response.headers.get('content-disposition'), 'attachment; filename="plain.pdf"; filename*=UTF-8\'\'plain.pdf');
  });
});

/** `filename` and the decoded `filename*` of a Content-Disposition of api.md's shape. */
function parseDisposition(header: string | null): { fallback: string; name: string } {
  assert.ok(header, 'Content-Disposition present');
  const match = /^attachment; filename="([^"]*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]*)$/.exec(header);
  assert.ok(match, `Content-Disposition has the shape of api.md: ${header}`);
  assert.match(match[1]!, /^[\x20-\x7e]*$/, 'the filename fallback is printable ASCII');
  return { fallback: match[1]!, name: decodeURIComponent(match[2]!) };
}

describe('Content-Disposition keeps the original name, safely', () => {
  test('a non-ASCII name "报告 2026 «final».docx" (sent raw UTF-8) -> filename* decodes back to it exactly', async () => {
    const name = '报告 2026 «final».docx';
    const { mediaId } = await store('file', sample('docx'), { filename: name });
    const response = await get(mediaId);
    assert.equal(response.status, 200);
    const { fallback, name: decoded } = parseDisposition(response.headers.get('content-disposition'));
    assert.equal(decoded, name);
    assert.ok(fallback.endsWith('.docx'), `ASCII fallback keeps the extension: ${fallback}`);
    await response.arrayBuffer();
  });

  const hostile: Array<{ title: string; name: string; expected?: string }> = [
    { title: 'double quotes', name: 'say "hi".png' },
    { title: 'CR LF (header injection attempt)', name: 'a\r\nSet-Cookie: x=1\r\n.png' },
    { title: 'backslashes (a Windows path)', name: 'C:\\Users\\me\\222.png', expected: '222.png' },
    { title: '../../etc/passwd (path traversal)', name: '../../etc/passwd', expected: 'passwd' },
    { title: 'a NUL and other control characters', name: 'nul\u0000tab\tdel\u007f.png' },
  ];
  for (const { title, name, expected } of hostile) {
    test(`a name with ${title} -> stored without path parts or control characters, header intact`, async () => {
      const png = sampleOfSize('png', 200);
      const { mediaId } = await store('image', png, { filenameStar: encodeURIComponent(name) });
      const response = await get(mediaId);
      assert.equal(response.status, 200);
      const header = response.headers.get('content-disposition');
      assert.doesNotMatch(header ?? '', /[\r\n\0]/, 'no control characters in the header');
      const { name: decoded } = parseDisposition(header);
      assert.doesNotMatch(decoded, /[/\\]/, `no path separators in the stored name: ${JSON.stringify(decoded)}`);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(decoded, /[\u0000-\u001f\u007f]/, `no control characters in the stored name: ${JSON.stringify(decoded)}`);
      assert.notEqual(decoded, '');
      if (expected !== undefined) assert.equal(decoded, expected);
      assert.equal(response.headers.get('set-cookie'), null, 'no header injected');
      assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(png));
    });
  }
});

/** The Content-Disposition lines of a download exactly as they came on the wire (bytes, as latin1). */
function rawDispositions(url: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    httpGet(url, (response) => {
      const lines = response.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1]!.toLowerCase() === 'content-disposition');
      response.resume();
      response.on('end', () => resolve(lines));
    }).on('error', reject);
  });
}

describe('a file name with double quotes comes back as sent (issue 14)', () => {
  const name = '报告 "q".png';
  // The quotes in filename* as %22, the fallback in printable ASCII without quotes or backslashes.
  const expected = `attachment; filename="__ _q_.png"; filename*=UTF-8''${'%E6%8A%A5%E5%91%8A%20%22q%22.png'}`;
  const forms: Array<{ how: string; part: { filename?: string; filenameStar?: string } }> = [
    // The HTML standard's escaping: what browsers, undici's FormData and @oapi-media/client send.
    { how: 'escaped as %22 (browsers, FormData, the SDK)', part: { filename: '报告 %22q%22.png' } },
    { how: 'as a quoted-pair \\" (RFC 7578 quoted-string)', part: { filename: '报告 \\"q\\".png' } },
    { how: 'in filename* (RFC 5987)', part: { filenameStar: encodeURIComponent(name) } },
  ];
  for (const { how, part } of forms) {
    test(`sent ${how} -> stored as ${JSON.stringify(name)}; the download's Content-Disposition bytes are exact`, async () => {
      const png = sampleOfSize('png', 300);
      const { mediaId } = await store('image', png, part);
      assert.deepEqual(await rawDispositions(downloadUrl(server.baseUrl, token, mediaId)), [expected]);
      const { name: decoded } = parseDisposition(expected);
      assert.equal(decoded, name);
    });
  }

  test('a CR or LF escaped as %0D/%0A is unescaped, then removed with the other control characters', async () => {
    const { mediaId } = await store('image', sampleOfSize('png', 300), { filename: 'a%0D%0ASet-Cookie: x=1.png' });
    assert.deepEqual(await rawDispositions(downloadUrl(server.baseUrl, token, mediaId)), [
      'attachment; filename="aSet-Cookie: x=1.png"; filename*=UTF-8\'\'aSet-Cookie%3A%20x%3D1.png',
    ]);
  });
});

describe(`Range requests on a ${SIZE}-byte file`, () => {
  const ranges: Array<{ header: string; start: number; end: number }> = [
    { header: 'bytes=0-0', start: 0, end: 0 },
    { header: 'bytes=10-', start: 10, end: SIZE - 1 },
    { header: 'bytes=-5', start: SIZE - 5, end: SIZE - 1 },
    { header: 'bytes=1000-1999', start: 1000, end: 1999 },
    { header: `bytes=4990-${SIZE + 100}`, start: 4990, end: SIZE - 1 },
  ];
  for (const { header, start, end } of ranges) {
    test(`Range: ${header} -> 206, Content-Range bytes ${start}-${end}/${SIZE}, exactly those bytes`, async () => {
      const response = await get(pdfId, { range: header });
      assert.equal(response.status, 206);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${SIZE}`);
      assert.equal(response.headers.get('content-length'), String(end - start + 1));
      assert.equal(response.headers.get('etag'), `"${sha256(pdf)}"`);
      const body = Buffer.from(await response.arrayBuffer());
      assert.deepEqual(body, pdf.subarray(start, end + 1));
    });
  }

  test(`Range: bytes=999999- -> 416 with Content-Range: bytes */${SIZE}`, async () => {
    const response = await get(pdfId, { range: 'bytes=999999-' });
    assert.equal(response.status, 416);
    assert.equal(response.headers.get('content-range'), `bytes */${SIZE}`);
    await response.arrayBuffer();
  });
});

describe('conditional and header-only requests', () => {
  test('If-None-Match with the same ETag -> 304 with an empty body', async () => {
    const response = await get(pdfId, { 'if-none-match': `"${sha256(pdf)}"` });
    assert.equal(response.status, 304);
    assert.equal(response.headers.get('etag'), `"${sha256(pdf)}"`);
    assert.equal((await response.arrayBuffer()).byteLength, 0);
  });

  test('If-None-Match with another ETag -> 200 with the bytes', async () => {
    const response = await get(pdfId, { 'if-none-match': `"${'0'.repeat(64)}"` });
    assert.equal(response.status, 200);
    assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(pdf));
  });

  describe('If-Modified-Since, answered like If-None-Match (RFC 9110 13.1.3, 13.2.2)', () => {
    const httpDate = (ms: number) => new Date(ms).toUTCString();
    const uploadedAt = () => Math.floor(pdfCreatedAt / 1000) * 1000; // Last-Modified has second precision

    test('the Last-Modified date itself, or a later one -> 304 with ETag and Last-Modified, no body', async () => {
      for (const since of [httpDate(uploadedAt()), httpDate(uploadedAt() + 3600_000)]) {
        const response = await get(pdfId, { 'if-modified-since': since });
        assert.equal(response.status, 304, since);
        assert.equal(response.headers.get('etag'), `"${sha256(pdf)}"`);
        assert.equal(response.headers.get('last-modified'), httpDate(uploadedAt()));
        assert.equal((await response.arrayBuffer()).byteLength, 0);
      }
    });

    test('a date one second before the upload -> 200 with the bytes', async () => {
      const response = await get(pdfId, { 'if-modified-since': httpDate(uploadedAt() - 1000) });
      assert.equal(response.status, 200);
      assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(pdf));
    });

    test('a value that is no HTTP date is ignored -> 200', async () => {
      const response = await get(pdfId, { 'if-modified-since': 'yesterday' });
      assert.equal(response.status, 200);
      assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(pdf));
    });

    test('If-None-Match wins when both are sent: another ETag -> 200 even though not modified since', async () => {
      const response = await get(pdfId, { 'if-none-match': `"${'0'.repeat(64)}"`, 'if-modified-since': httpDate(uploadedAt() + 3600_000) });
      assert.equal(response.status, 200);
      assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(pdf));
    });

    test('If-None-Match wins when both are sent: the same ETag -> 304 even with a date before the upload', async () => {
      const response = await get(pdfId, { 'if-none-match': `"${sha256(pdf)}"`, 'if-modified-since': httpDate(uploadedAt() - 86_400_000) });
      assert.equal(response.status, 304);
      await response.arrayBuffer();
    });

    test('a request\'s Cache-Control: no-cache (fetch adds it to conditional requests) does not turn the condition off', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        httpGet(downloadUrl(server.baseUrl, token, pdfId), { headers: { 'if-modified-since': httpDate(uploadedAt()), 'cache-control': 'no-cache' } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(status, 304);
    });

    test('evaluated before Range, and on HEAD too: 304 on the wire', async () => {
      const ranged = await get(pdfId, { 'if-modified-since': httpDate(uploadedAt()), range: 'bytes=0-9' });
      assert.equal(ranged.status, 304);
      await ranged.arrayBuffer();
      const head = await fetch(downloadUrl(server.baseUrl, token, pdfId), { method: 'HEAD', headers: { 'if-modified-since': httpDate(uploadedAt()) } });
      assert.equal(head.status, 304);
      assert.equal(head.headers.get('last-modified'), httpDate(uploadedAt()));
    });
  });

  test('HEAD -> 200 with the download headers and not one byte of body on the wire', async () => {
    const { head, bodyBytes } = await rawHead(downloadUrl(server.baseUrl, token, pdfId));
    assert.match(head, /^http\/1\.1 200 /);
    assert.match(head, new RegExp(`\r\ncontent-length: ${SIZE}\r\n`));
    assert.match(head, new RegExp(`\r\netag: "${sha256(pdf)}"\r\n`));
    assert.match(head, /\r\ncontent-type: application\/pdf\r\n/);
    assert.equal(bodyBytes, 0, 'nothing after the headers');
  });

  test('GET /media/get (alias) -> the same bytes and ETag', async () => {
    const response = await get(pdfId, {}, '/media/get');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('etag'), `"${sha256(pdf)}"`);
    assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(pdf));
  });
});

describe('who may download', () => {
  test('an app of another organization -> 40007, the same answer as an unknown media_id', async () => {
    const other = await server.createApp('another-org');
    const otherToken = await getToken(server.baseUrl, other.appKey, other.appSecret);
    const foreign = await fetch(downloadUrl(server.baseUrl, otherToken, pdfId));
    const unknown = await fetch(downloadUrl(server.baseUrl, otherToken, '@AAAAAAAAAAAAAAAAAAAAAAAA'));
    assert.equal(foreign.status, 200);
    assert.equal(foreign.headers.get('etag'), null, 'no bytes, no ETag');
    assert.equal(foreign.headers.get('content-type'), 'application/json; charset=utf-8');
    const foreignBody = (await foreign.json()) as Record<string, unknown>;
    const unknownBody = (await unknown.json()) as Record<string, unknown>;
    assert.equal(foreignBody.errcode, 40007);
    const { request_id: _a, ...foreignRest } = foreignBody;
    const { request_id: _b, ...unknownRest } = unknownBody;
    assert.deepEqual(foreignRest, unknownRest);
    assert.equal(foreign.status, unknown.status);
  });

  test('another app of the same organization -> the bytes', async () => {
    const sibling = await server.createApp('default');
    const siblingToken = await getToken(server.baseUrl, sibling.appKey, sibling.appSecret);
    const response = await fetch(downloadUrl(server.baseUrl, siblingToken, pdfId));
    assert.equal(response.status, 200);
    assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(pdf));
  });

  test('no media_id -> 41006', async () => {
    const response = await fetch(`${server.baseUrl}/media/downloadFile?access_token=${encodeURIComponent(token)}`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { errcode: number }).errcode, 41006);
  });
});

test('50 concurrent downloads of a 20 MiB file -> all 50 sha256-equal to the upload', async () => {
  const big = sampleOfSize('mp4', 20 * 1024 * 1024);
  const expected = sha256(big);
  const { mediaId } = await store('video', big, { filename: 'big.mp4' });
  const hashes = await Promise.all(Array.from({ length: 50 }, async () => {
    const response = await get(mediaId);
    assert.equal(response.status, 200);
    const hash = createHash('sha256');
    for await (const chunk of response.body!) hash.update(chunk);
    return hash.digest('hex');
  }));
  assert.deepEqual(hashes, Array(50).fill(expected));
});
