// A multipart/form-data body with one file part, built as a stream so that the file is
// never held in memory whole (FormData would need a Blob). Its length is known exactly
// when the file's size is, so Content-Length can be sent instead of chunked encoding.

import { randomBytes } from 'node:crypto';

export interface MultipartFilePart {
  /** The form field name; DingTalk's is `media` (api.md "POST /media/upload"). */
  readonly fieldName: string;
  readonly filename: string;
  readonly contentType: string;
  readonly size: number | undefined;
  readonly content: ReadableStream<Uint8Array>;
}

export interface MultipartBody {
  readonly contentType: string;
  /** Undefined when the part's size is unknown: the body then goes chunked. */
  readonly contentLength: number | undefined;
  readonly stream: ReadableStream<Uint8Array>;
  /**
   * Stops reading the file part and releases its source (a Node stream is destroyed).
   * fetch does not cancel a request body when it fails or is aborted, so the sender must.
   */
  release(reason?: unknown): Promise<void>;
}

export function multipartBody(part: MultipartFilePart): MultipartBody {
  const boundary = `----oapi-media-${randomBytes(16).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\n`
    + `Content-Disposition: form-data; name="${escapeQuoted(part.fieldName)}"; filename="${escapeQuoted(part.filename)}"\r\n`
    + `Content-Type: ${part.contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const reader = part.content.getReader();
  let stage: 'head' | 'content' | 'done' = 'head';
  const isDone = () => stage === 'done'; // read through a call: `stage` changes across awaits
  let outer: ReadableStreamDefaultController<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        outer = controller;
      },
      async pull(controller) {
        if (stage === 'head') {
          stage = 'content';
          controller.enqueue(head);
          return;
        }
        if (stage === 'done') return;
        const { value, done } = await reader.read();
        if (isDone()) return; // released while reading: never complete the body
        if (!done) {
          controller.enqueue(value);
          return;
        }
        stage = 'done';
        controller.enqueue(tail);
        controller.close();
      },
      cancel(reason) {
        stage = 'done';
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const contentLength = part.size === undefined ? undefined : head.byteLength + part.size + tail.byteLength;
  const release = async (reason?: unknown) => {
    if (stage === 'done') return; // complete already: nothing to release
    stage = 'done';
    // Errored, not closed: a body that ended well-formed (closing boundary, final chunk) after
    // a cut-off file would look complete to the server and store a truncated file.
    try {
      outer?.error(reason ?? new Error('upload body released'));
    } catch {
      // already closed or errored
    }
    await reader.cancel(reason).catch(() => undefined);
  };
  return { contentType: `multipart/form-data; boundary=${boundary}`, contentLength, stream, release };
}

/** The WHATWG FormData escaping of a quoted header parameter: ", CR and LF percent-encoded. */
function escapeQuoted(value: string): string {
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
