import { EXTENSION_FORMATS, extensionOf } from '@oapi-media/core';
import type { MediaFormat, MediaTypeRule } from '@oapi-media/core';

const OOXML_FORMATS: ReadonlySet<MediaFormat> = new Set(['docx', 'xlsx', 'pptx']);

/**
 * api.md "POST /media/upload": the bytes must be one of the type's formats (the wire's rule for that type), and the file name's extension must agree
 * with them. A name without an extension is judged by the bytes alone; an unknown extension is
 * refused. An OOXML document named .zip passes (it is a valid zip archive); the reverse does not.
 */
export function formatAllowed(rule: MediaTypeRule, fileName: string, detected: MediaFormat | null): boolean {
  if (detected === null) return false;
  const { formats } = rule;
  if (!formats.includes(detected)) return false;
  const extension = extensionOf(fileName);
  if (extension === '') return true;
  if (!Object.hasOwn(EXTENSION_FORMATS, extension)) return false;
  const named = EXTENSION_FORMATS[extension];
  if (named === detected) return true;
  return named === 'zip' && OOXML_FORMATS.has(detected) && formats.includes('zip');
}
