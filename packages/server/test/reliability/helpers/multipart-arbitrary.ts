// fast-check arbitraries of hostile multipart/form-data bodies: odd boundaries and Content-Type
// headers, 0..60 parts, missing or bare-LF line ends, huge header lines, nested multiparts, random
// bytes, a missing or garbled end, and byte flips or truncation on top.

import fc from 'fast-check';
import { sample } from '../../fixtures/samples.ts';

export interface FuzzedUpload {
  contentType: string;
  body: Buffer;
  /** Query beside the token: a type or none. */
  type: string | undefined;
  /** Send with Transfer-Encoding: chunked in pieces of this size (else Content-Length). */
  chunkSize: number | undefined;
}

const PNG = sample('png');
const BOUNDARY_CHARS = 'abcXYZ0123456789\'()+_,-./:=? ';
const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

const boundaryArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...BOUNDARY_CHARS), minLength: 1, maxLength: 70 }).map((s) => s.trim() || 'b'),
  printable(20).map((s) => s.replace(/[";]/g, '') || 'q'),
  fc.integer({ min: 71, max: 300 }).map((n) => 'B'.repeat(n)),
);

const headerLineArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('media', 'type', 'access_token', 'other', '', 'MEDIA').chain((name) =>
    fc.option(printable(40), { nil: undefined }).map((filename) =>
      `Content-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}`)) },
  { weight: 1, arbitrary: fc.constant(`Content-Disposition: form-data; name="media"; filename*=UTF-8''%E2%80%AEgnp.png`) },
  { weight: 2, arbitrary: fc.constantFrom('Content-Type: image/png', 'Content-Type: multipart/mixed; boundary=inner', 'Content-Type: text/plain; charset=utf-16') },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 120_000 }).map((n) => `X-Huge: ${'h'.repeat(n)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => `Content-Disposition: form-data; name="${'n'.repeat(n)}"`) },
  { weight: 2, arbitrary: printable(80) },
);

const partBodyArb = (boundary: string) => fc.oneof(
  fc.constant(PNG),
  fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
  printable(200).map((s) => Buffer.from(s)),
  // A nested multipart, sometimes reusing the outer boundary.
  fc.tuple(fc.constantFrom('inner', boundary, `${boundary}x`), fc.integer({ min: 0, max: 3 })).map(([inner, n]) =>
    Buffer.from(Array.from({ length: n }, (_, i) => `--${inner}\r\nContent-Disposition: form-data; name="media"; filename="n${i}.png"\r\n\r\n${PNG.toString('latin1')}\r\n`).join('') + `--${inner}--\r\n`, 'latin1')),
);

const lineEndArb = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '', '\r');

const partArb = (boundary: string) =>
  fc.record({ headers: fc.array(headerLineArb, { maxLength: 4 }), lineEnd: lineEndArb, body: partBodyArb(boundary) });

export const fuzzedUploadArb: fc.Arbitrary<FuzzedUpload> = boundaryArb.chain((boundary) =>
  fc.record({
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(`multipart/form-data; boundary="${boundary}"`, `multipart/form-data; boundary=${boundary}`, `MULTIPART/FORM-DATA;boundary=${boundary}`) },
      { weight: 1, arbitrary: fc.constantFrom('multipart/form-data', `multipart/mixed; boundary=${boundary}`, `multipart/form-data; boundary=${boundary}; boundary=other`) },
    ),
    preamble: fc.oneof(fc.constant(''), printable(100)),
    parts: fc.oneof(
      { weight: 4, arbitrary: fc.array(partArb(boundary), { maxLength: 6 }) },
      { weight: 1, arbitrary: fc.array(partArb(boundary), { minLength: 30, maxLength: 60 }) },
    ),
    end: fc.constantFrom(`--${boundary}--\r\n`, `--${boundary}--`, '', `--${boundary}`, `--${boundary}-`, `\r\n--${boundary}--\r\n`),
    flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    truncateAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 4, nil: undefined }),
    type: fc.constantFrom('image', 'image', 'file', 'voice', 'bogus', undefined),
    chunkSize: fc.option(fc.integer({ min: 1, max: 65_536 }), { freq: 3, nil: undefined }),
  }).map(({ contentType, preamble, parts, end, flips, truncateAt, type, chunkSize }) => {
    const pieces: Buffer[] = [Buffer.from(preamble, 'latin1')];
    for (const part of parts) {
      pieces.push(Buffer.from(`--${boundary}${part.lineEnd}${part.headers.map((h) => `${h}${part.lineEnd}`).join('')}${part.lineEnd}`, 'latin1'));
      pieces.push(part.body, Buffer.from(part.lineEnd, 'latin1'));
    }
    pieces.push(Buffer.from(end, 'latin1'));
    let body = Buffer.concat(pieces);
    for (const [at, byte] of flips) if (body.length > 0) body[Math.floor(at * body.length)] = byte;
    if (truncateAt !== undefined) body = body.subarray(0, Math.floor(truncateAt * body.length));
    return { contentType, body, type, chunkSize };
  }),
);
