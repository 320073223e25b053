// Reads a multipart/form-data upload with busboy, for any wire: the file part (named as the wire
// names it: DingTalk's and WeCom's `media`, Feishu's `file`) is streamed into staging (never
// buffered whole); small fields (access_token, type) are collected whether they come before or
// after the file (api.md "Conventions": DingTalk's own curl sends them with -F, before the file).

import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { ApiError } from '@oapi-media/core';
import type { StagedUpload } from '../service/dialect-services.ts';

export interface UploadForm {
  fields: Map<string, string>;
  /** The staged file part, or undefined when the form had none; the caller owns it. */
  staged: StagedUpload | undefined;
  fileName: string | undefined;
}

export interface UploadFormRules {
  /** The names the file part may have; the first part with one of them is the file. */
  fileFields: readonly string[];
  /** Reads the file part into staging (DialectServices.uploads.receive). */
  receive(source: Readable, capBytes: number): Promise<StagedUpload>;
}

/**
 * The HTML standard's multipart/form-data encoding escapes three characters of a file name as
 * %22 ("), %0D (CR) and %0A (LF) and nothing else; browsers, undici's FormData (Node's fetch) and
 * @oapi-media/client send names so. busboy undoes RFC quoting (\" and filename*) but not these,
 * so `报告 "q".png` would be stored as `报告 %22q%22.png`. A literal "%22" in a name cannot be told
 * apart from an escaped quote (browsers do not escape %), so it is read as the quote, as the
 * standard intends; CR and LF are then removed with the other control characters (file-names.ts).
 */
export function unescapeFormDataName(name: string): string {
  return name.replace(/%(22|0D|0A)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Room for the multipart framing and small fields around the file part. */
export const FORM_OVERHEAD_BYTES = 64 * 1024;

const CLEANUP_WAIT_MS = 5_000;
const FIELD_LIMITS = { fields: 32, fieldSize: 64 * 1024, files: 8, parts: 48, headerPairs: 32 };

/**
 * Resolves once the whole form is read and the file part is staged; rejects with the staging
 * error (StagingLimitError past `capBytes`) as soon as it happens, or ApiError for a form that
 * cannot be read. Nothing stays in the staging area when it rejects.
 */
export function readUploadForm(request: IncomingMessage, rules: UploadFormRules, capBytes: number): Promise<UploadForm> {
  const isFilePart = (name: string): boolean => rules.fileFields.includes(name);
  return new Promise<UploadForm>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: request.headers,
        limits: { ...FIELD_LIMITS, fileSize: capBytes + 1 },
        defCharset: 'latin1', // field values byte for byte: a media part sent as a field stays binary
        defParamCharset: 'utf8', // file names are sent as raw UTF-8 by browsers, curl and most SDKs
      });
    } catch {
      reject(new ApiError('multipartRequired', 'no multipart boundary'));
      return;
    }
    const fields = new Map<string, string>();
    let staging$: Promise<StagedUpload> | undefined;
    let fileName: string | undefined;
    let settled = false;

    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      request.unpipe(parser);
      parser.removeAllListeners('file');
      // Ends the media stream in flight too, so its staging pipeline fails and removes the file.
      parser.destroy();
      // The staged file (if any) is removed by the stager on its own error, or here once staged;
      // the answer waits for that (api.md "POST /media/upload": a refused upload leaves nothing on disk when answered),
      // but never longer than CLEANUP_WAIT_MS.
      const cleanedUp = staging$?.then((staged) => staged.discard(), () => {}) ?? Promise.resolve();
      const timer = setTimeout(() => reject(error), CLEANUP_WAIT_MS);
      void cleanedUp.then(() => {
        clearTimeout(timer);
        reject(error);
      });
    };

    parser.on('field', (name, value: string | undefined, info) => {
      // busboy goes on emitting the parts of the chunk in hand after fail(): stage none of them.
      if (settled) return;
      // busboy hands `undefined` for a part whose declared charset it cannot decode (e.g.
      // charset=utf-16); a throw here would be uncaught (inside busboy's write) and end the process.
      // A file part with neither a filename nor a binary type arrives as a field: still the media.
      if (isFilePart(name) && staging$ === undefined) {
        if (info.valueTruncated || typeof value !== 'string') {
          fail(new ApiError('formatNotAllowed', 'media sent as a text part too large or in an unknown charset'));
          return;
        }
        staging$ = rules.receive(Readable.from([Buffer.from(value, 'latin1')]), capBytes);
        staging$.catch(fail);
        return;
      }
      if (typeof value === 'string' && !fields.has(name)) fields.set(name, value);
    });
    parser.on('file', (name, stream, info) => {
      // busboy emits 'error' on a part's stream when the body ends inside that part (client gone).
      // Unheard, that error kills the process: an extra part has no reader, and the media part has
      // none until the stager's pipeline is attached (after an await). The form's own error/close
      // path answers the request; the pipeline still sees the stream's error when it attaches.
      stream.on('error', () => {});
      if (!isFilePart(name) || staging$ !== undefined) {
        stream.resume(); // extra parts are read past, not stored
        return;
      }
      fileName = info.filename === undefined ? undefined : unescapeFormDataName(info.filename);
      staging$ = rules.receive(stream, capBytes);
      staging$.catch(fail);
    });
    parser.on('error', (error: Error) => {
      const truncated = /unexpected end/i.test(error.message);
      fail(new ApiError(truncated ? 'missingMedia' : 'multipartRequired', `multipart: ${error.message}`));
    });
    parser.on('close', () => {
      if (settled) return;
      if (staging$ === undefined) {
        settled = true;
        resolve({ fields, staged: undefined, fileName });
        return;
      }
      staging$.then(
        (staged) => {
          if (settled) {
            void staged.discard();
            return;
          }
          settled = true;
          resolve({ fields, staged, fileName });
        },
        fail,
      );
    });
    // Node destroys a request whose client goes away (socket closed) even when its whole body had
    // arrived (request.complete): what was not read yet is dropped and 'end' never comes. So the
    // test is whether the body was read to its end, not whether it arrived.
    request.on('close', () => {
      if (!request.readableEnded) fail(new ApiError('missingMedia', 'client went away mid-upload'));
    });
    // A client that went away while its upload waited for a slot: its 'close' has come and gone.
    if (request.destroyed) {
      fail(new ApiError('missingMedia', 'client went away before its upload was read'));
      return;
    }
    request.pipe(parser);
  });
}
