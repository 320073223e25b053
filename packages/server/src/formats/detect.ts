// api.md "POST /media/upload": the format is decided from the file's bytes. file-type names
// the magic number; the checks beside this file confirm the header and, for containers,
// read the structure (OLE directory, zip central directory) with positioned reads only.
import { open } from 'node:fs/promises';
import { fileTypeFromFile } from 'file-type';
import type { MediaFormat } from '@oapi-media/core';
import { classifyCompoundFile, hasCompoundFileSignature } from './compound-file.ts';
import {
  isAmrHeader, isBitmapHeader, isGifHeader, isJpegHeader, isMp3File, isMp4File, isPdfHeader, isPngHeader,
} from './media-headers.ts';
import { readAt } from './read-at.ts';
import { classifyZipArchive, hasZipSignature } from './zip-archive.ts';

const HEAD_BYTES = 64;

/** Which of the 17 formats of api.md the bytes at `path` are, or null for anything else. */
export async function detectFormat(path: string): Promise<MediaFormat | null> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size === 0) return null;
    const head = await readAt(file, 0, HEAD_BYTES);
    // Containers are decided by their directories, not their first bytes.
    if (hasCompoundFileSignature(head)) return await classifyCompoundFile(file, size);
    if (hasZipSignature(head)) return await classifyZipArchive(file, size);
    if (head.toString('latin1', 4, 8) === 'ftyp') return (await isMp4File(file, head)) ? 'mp4' : null;

    const magic = await magicNumberOf(path);
    switch (magic) {
      case 'jpg': return isJpegHeader(head) ? 'jpg' : null;
      case 'png':
      case 'apng': return isPngHeader(head) ? 'png' : null; // an animated PNG is a valid PNG
      case 'gif': return isGifHeader(head) ? 'gif' : null;
      case 'bmp': return isBitmapHeader(head, size) ? 'bmp' : null;
      case 'amr': return isAmrHeader(head) ? 'amr' : null;
      case 'mp3': return (await isMp3File(file, size)) ? 'mp3' : null;
      case 'wav': return 'wav'; // file-type checked RIFF....WAVE
      case 'pdf':
      case 'ai': return isPdfHeader(head) ? 'pdf' : null; // PDF-compatible Illustrator files are PDFs
      case 'rar': return 'rar'; // RAR 4 or RAR 5 signature
      default: return null;
    }
  } finally {
    await file.close();
  }
}

/** file-type's extension for the file, or undefined; a malformed file is "unknown", an I/O error is thrown. */
async function magicNumberOf(path: string): Promise<string | undefined> {
  try {
    return (await fileTypeFromFile(path))?.ext;
  } catch (error) {
    if (error instanceof Error && 'syscall' in error) throw error;
    return undefined; // e.g. EndOfStreamError on a truncated header
  }
}
