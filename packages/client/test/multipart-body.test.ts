import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multipartBody } from '../src/multipart-body.ts';

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

test('multipart body: one `media` part with the file name, the exact bytes, and an exact Content-Length', async () => {
  const file = Buffer.from('\r\n--not-the-boundary\r\nbinary\x00\xff');
  const body = multipartBody({ fieldName: 'media', filename: 'a "b".png', contentType: 'image/png', size: file.length, content: streamOf(file.subarray(0, 5), file.subarray(5)) });
  const boundary = /boundary=(.+)$/.exec(body.contentType)![1]!;
  const bytes = await readAll(body.stream);
  assert.equal(bytes.length, body.contentLength);
  const expected = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="a %22b%22.png"\r\nContent-Type: image/png\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  assert.deepEqual(bytes, expected);
});

test('multipart body: unknown size -> no Content-Length', () => {
  const body = multipartBody({ fieldName: 'media', filename: 'a.png', contentType: 'image/png', size: undefined, content: streamOf() });
  assert.equal(body.contentLength, undefined);
});

test('multipart body released mid-file errors instead of ending well-formed (no truncated file may look complete)', async () => {
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.enqueue(new Uint8Array(1024)),
    cancel: () => { cancelled = true; },
  }, { highWaterMark: 0 });
  const body = multipartBody({ fieldName: 'media', filename: 'a.png', contentType: 'image/png', size: undefined, content: endless });
  const reader = body.stream.getReader();
  await reader.read(); // head
  await reader.read(); // first file chunk
  await body.release(new Error('aborted'));
  await assert.rejects(reader.read(), /aborted/);
  assert.equal(cancelled, true);
});
