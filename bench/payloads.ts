// The files the bench uploads: valid PDFs of an exact byte size (the product sniffs content, so
// the same bytes must pass its `type=file` check; the peers take them as opaque bytes). The
// padding is random so that no target can win by compressing or deduplicating it. Each file is
// written once per run and reused by every request (issue 6: bodies are not generated per request).

import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export interface Payload {
  path: string;
  size: number;
  sha256: string;
  fileName: string;
  contentType: string;
}

/** A one-page PDF whose content stream is padded with random bytes to exactly `size` bytes. */
export function pdfOfSize(size: number): Buffer {
  const head = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const objects = [
    '1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n',
    '2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n',
    '3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>\nendobj\n',
  ];
  // The stream's /Length changes the size by its digits: try each digit count until it fits.
  for (let digits = 1; digits <= 10; digits++) {
    const fixed = (length: string) => {
      const streamHead = `4 0 obj\n<< /Length ${length} >>\nstream\n`;
      const streamTail = '\nendstream\nendobj\n';
      return { streamHead, streamTail };
    };
    const probe = fixed('0'.repeat(digits));
    const beforeXref = Buffer.byteLength(head, 'latin1') + objects.reduce((n, o) => n + o.length, 0) + probe.streamHead.length + probe.streamTail.length;
    const xrefAt = (paddingLength: number) => beforeXref + paddingLength;
    const xref = (startxref: number) =>
      'xref\n0 5\n0000000000 65535 f \n' + '0000000000 00000 n \n'.repeat(4) + `trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n${startxref}\n%%EOF\n`;
    // startxref's own digit count also matters; it is at most 10 digits, so solve by iteration.
    let padding = size - beforeXref - xref(0).length;
    for (let i = 0; i < 3; i++) padding = size - beforeXref - xref(xrefAt(padding)).length;
    if (padding < 0) throw new Error(`a PDF cannot be as small as ${size} bytes`);
    if (String(padding).length !== digits) continue;
    const { streamHead, streamTail } = fixed(String(padding));
    const offsets: number[] = [];
    let text = head;
    for (const object of objects) {
      offsets.push(Buffer.byteLength(text, 'latin1'));
      text += object;
    }
    offsets.push(Buffer.byteLength(text, 'latin1'));
    const startxref = Buffer.byteLength(text, 'latin1') + streamHead.length + padding + streamTail.length;
    const xrefText =
      'xref\n0 5\n0000000000 65535 f \n' +
      offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('') +
      `trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n${startxref}\n%%EOF\n`;
    const pdf = Buffer.concat([
      Buffer.from(text + streamHead, 'latin1'),
      randomFillSync(Buffer.allocUnsafe(padding)),
      Buffer.from(streamTail + xrefText, 'latin1'),
    ]);
    if (pdf.length !== size) throw new Error(`pdfOfSize(${size}) made ${pdf.length} bytes`);
    return pdf;
  }
  throw new Error(`no PDF layout fits ${size} bytes`);
}

/** Writes the payload file once into `dir` and describes it. */
export function writePdfPayload(dir: string, size: number): Payload {
  const bytes = pdfOfSize(size);
  const fileName = `bench-${size}.pdf`;
  const path = join(dir, fileName);
  writeFileSync(path, bytes);
  return { path, size, sha256: createHash('sha256').update(bytes).digest('hex'), fileName, contentType: 'application/pdf' };
}

/** A file of `size` random bytes, written and hashed 8 MiB at a time (scenario f: up to GiBs, never whole in memory). */
export function writeRandomPayload(dir: string, size: number): Payload {
  const fileName = `bench-${size}.bin`;
  const path = join(dir, fileName);
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(8 * MiB);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < size;) {
      const bytes = randomFillSync(block).subarray(0, Math.min(block.length, size - written));
      hash.update(bytes);
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      written += bytes.length;
    }
  } finally {
    closeSync(fd);
  }
  return { path, size, sha256: hash.digest('hex'), fileName, contentType: 'application/octet-stream' };
}
