// The original file name is kept for Content-Disposition (api.md "GET /media/downloadFile"), but stored safely: no path, no
// control characters, bounded length. It is never used as a path on disk.

const MAX_NAME_BYTES = 255;
// Control characters, and the bidi controls that make a name display as something else
// (U+202E turns "invoice\u202Egnp.exe" into a name that reads as "invoiceexe.png"); right-to-left
// letters (Arabic, Hebrew) are kept.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function safeFileName(raw: string | undefined, fallbackExtension: string): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  let name = base.replace(CONTROL_CHARACTERS, '').trim();
  if (name === '' || name === '.' || name === '..') name = `media.${fallbackExtension}`;
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let stem = '';
  let budget = MAX_NAME_BYTES - Buffer.byteLength(extension);
  for (const codePoint of name.slice(0, name.length - extension.length)) {
    budget -= Buffer.byteLength(codePoint);
    if (budget < 0) break;
    stem += codePoint;
  }
  return stem + extension;
}
