// Reads a multipart/form-data upload with busboy, for any wire: the file part (named as the wire
// names it: DingTalk's and WeCom's `media`, Feishu's `file`) is streamed into staging (never
// buffered whole); small fields (access_token, type) are collected whether they come before or
// after the file (api.md "Conventions": DingTalk's own curl sends them with -F, before the file).

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { ApiError, type ErrorKind } from '@oapi-media/core';
import type { StagedUpload } from '../service/dialect-services.ts';
import { markBodyCut } from './body-budget.ts';
import { watchBodyRate, type MinBodyRate } from './body-rate.ts';

export interface UploadForm {
  fields: Map<string, string>;
  /** The staged file part, or undefined when the form had none; the caller owns it. */
  staged: StagedUpload | undefined;
  fileName: string | undefined;
  /** Which of FORM_LIMITS the form reached (busboy read no part past it), if any. */
  limitReached: 'fields' | 'files' | 'parts' | undefined;
}

export interface UploadFormRules {
  /** The names the file part may have; the first part with one of them is the file. */
  fileFields: readonly string[];
  /** Reads the file part into staging (DialectServices.uploads.receive). */
  receive(source: Readable, capBytes: number): Promise<StagedUpload>;
  /** A body slower than this while it is read is cut (uploadTooSlow); none when omitted. */
  minBodyRate?: MinBodyRate;
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

/** One part of an upload form as it arrived, for the emulator's request journal (never kept otherwise). */
export interface FormPartSummary {
  field: string;
  /** A text part's value (the first 256 characters); absent for a file part. */
  value?: string;
  /** A file part: its filename as sent (undefined when it had none), declared type, size and sha256. */
  fileName?: string | undefined;
  declaredType?: string;
  size?: number;
  sha256?: string;
  /** The part the server took as the media. */
  media?: boolean;
}

/** The forms being summarized: only requests someone asked about (watchUploadForm). */
const formSummaries = new WeakMap<IncomingMessage, FormPartSummary[]>();
const SUMMARY_VALUE_CHARS = 256;

/** Asks readUploadForm to summarize this request's form, part by part (the emulator's journal). */
export function watchUploadForm(request: IncomingMessage): void {
  formSummaries.set(request, []);
}

/** The parts read so far of a watched request's form, in their order; undefined if not watched or never read as a form. */
export function uploadFormSummary(request: IncomingMessage): readonly FormPartSummary[] | undefined {
  return formSummaries.get(request);
}

/** Room for the multipart framing and small fields around the file part. */
export const FORM_OVERHEAD_BYTES = 64 * 1024;

const CLEANUP_WAIT_MS = 5_000;
/** api.md "Form limits": what a form may hold; parts past a limit are not read. */
export const FORM_LIMITS = { fields: 32, fieldSize: 64 * 1024, files: 8, parts: 48, headerPairs: 32 };
/**
 * The largest part header block busboy reads, its closing blank line included: its buffer is 16 KiB
 * (Node's default header size), of which the last CR LF CR LF counts 3 bytes more (measured).
 */
export const PART_HEADER_MAX_BYTES = 16 * 1024 - 3;
/** Kept of the body's last bytes to tell why busboy refused a part header (it does not say). */
const TAIL_BYTES = 20 * 1024;

/** The boundary of a multipart Content-Type (quoted or not), as the delimiter lines carry it. */
function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match?.[1] ?? match?.[2];
}

/**
 * busboy answers "Malformed part header" for three mistakes: a header block past 16 KiB, a
 * control byte in it (a raw NUL in a file name), or a badly formed line. Which one it was is read
 * from the body's last bytes (`tail`), where busboy stopped: the first part header there that is
 * too long or holds a control byte.
 */
export function malformedPartHeaderKind(tail: Buffer, boundary: string | undefined): ErrorKind {
  if (boundary === undefined) return 'multipartRequired';
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  for (let at = tail.indexOf(delimiter); at !== -1;) {
    const lineEnd = tail.indexOf('\r\n', at + delimiter.length);
    if (lineEnd === -1) break;
    const start = lineEnd + 2;
    const end = tail.indexOf('\r\n\r\n', start);
    const header = tail.subarray(start, end === -1 ? tail.length : end + 4);
    if (header.length > PART_HEADER_MAX_BYTES) return 'partHeaderTooLarge';
    // eslint-disable-next-line no-control-regex
    const control = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(header.toString('latin1'));
    if (control) {
      const before = header.subarray(0, control.index).toString('latin1');
      return /filename\*?=[^;\r\n]*$/i.test(before) ? 'invalidFileName' : 'multipartRequired';
    }
    if (end === -1) break;
    at = tail.indexOf(delimiter, end);
  }
  // No delimiter in the last TAIL_BYTES: the header that was being read began before them.
  return tail.length >= TAIL_BYTES && tail.indexOf(delimiter) === -1 ? 'partHeaderTooLarge' : 'multipartRequired';
}

/** The media part's size and sha256, once staged (a refused one keeps neither). */
function summarizeStaged(part: FormPartSummary, staging$: Promise<StagedUpload>): void {
  part.media = true;
  staging$.then((staged) => {
    part.size = staged.size;
    part.sha256 = staged.sha256;
  }, () => {});
}

/** A part read past: its size and sha256 as it streams by (only in a watched form). */
function summarizeSkipped(part: FormPartSummary, stream: Readable): void {
  const hash = createHash('sha256');
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    hash.update(chunk);
  });
  stream.on('end', () => {
    part.size = size;
    part.sha256 = hash.digest('hex');
  });
}

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
        limits: { ...FORM_LIMITS, fileSize: capBytes + 1 },
        defCharset: 'latin1', // field values byte for byte: a media part sent as a field stays binary
        defParamCharset: 'utf8', // file names are sent as raw UTF-8 by browsers, curl and most SDKs
      });
    } catch {
      reject(new ApiError('multipartRequired', 'no multipart boundary'));
      return;
    }
    const fields = new Map<string, string>();
    const summary = formSummaries.get(request);
    let staging$: Promise<StagedUpload> | undefined;
    let fileName: string | undefined;
    let limitReached: UploadForm['limitReached'];
    let settled = false;
    // The body's last bytes (whole chunks, at most TAIL_BYTES before the newest), for malformedPartHeaderKind.
    const tail: Buffer[] = [];
    let tailBytes = 0;
    const keepTail = (chunk: Buffer): void => {
      tail.push(chunk);
      tailBytes += chunk.length;
      while (tail.length > 1 && tailBytes - tail[0]!.length >= TAIL_BYTES + chunk.length) tailBytes -= tail.shift()!.length;
    };

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
      const part: FormPartSummary | undefined = summary && { field: name, value: (value ?? '').slice(0, SUMMARY_VALUE_CHARS), declaredType: info.mimeType };
      if (part) summary!.push(part);
      if (isFilePart(name) && staging$ === undefined) {
        if (info.valueTruncated || typeof value !== 'string') {
          fail(new ApiError('formatNotAllowed', 'media sent as a text part too large or in an unknown charset'));
          return;
        }
        staging$ = rules.receive(Readable.from([Buffer.from(value, 'latin1')]), capBytes);
        staging$.catch(fail);
        if (part) summarizeStaged(part, staging$);
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
      const partName = info.filename === undefined ? undefined : unescapeFormDataName(info.filename);
      const part: FormPartSummary | undefined = summary && { field: name, fileName: partName, declaredType: info.mimeType };
      if (part) summary!.push(part);
      if (!isFilePart(name) || staging$ !== undefined) {
        if (part) summarizeSkipped(part, stream);
        stream.resume(); // extra parts are read past, not stored
        return;
      }
      fileName = partName;
      staging$ = rules.receive(stream, capBytes);
      staging$.catch(fail);
      if (part) summarizeStaged(part, staging$);
    });
    parser.on('fieldsLimit', () => { limitReached ??= 'fields'; });
    parser.on('filesLimit', () => { limitReached ??= 'files'; });
    parser.on('partsLimit', () => { limitReached ??= 'parts'; });
    parser.on('error', (error: Error) => {
      const kind: ErrorKind = /unexpected end/i.test(error.message) ? 'missingMedia'
        : /malformed part header/i.test(error.message) ? malformedPartHeaderKind(Buffer.concat(tail), boundaryOf(request.headers['content-type']))
          : 'multipartRequired';
      fail(new ApiError(kind, `multipart: ${error.message}`));
    });
    parser.on('close', () => {
      if (settled) return;
      if (staging$ === undefined) {
        settled = true;
        resolve({ fields, staged: undefined, fileName, limitReached });
        return;
      }
      staging$.then(
        (staged) => {
          if (settled) {
            void staged.discard();
            return;
          }
          settled = true;
          resolve({ fields, staged, fileName, limitReached });
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
    if (rules.minBodyRate) {
      const stopWatching = watchBodyRate(request, rules.minBodyRate, (receivedBytes, overMs) => {
        markBodyCut(request);
        fail(new ApiError('uploadTooSlow', `${receivedBytes} bytes in ${overMs} ms of reading`));
      });
      parser.once('close', stopWatching);
    }
    // Registered before the pipe's own 'data' listener: the chunk busboy chokes on is in the tail.
    request.on('data', keepTail);
    request.pipe(parser);
  });
}
