// api.md "POST /media/upload": the format is decided from the file's bytes. file-type names
// the magic number; the checks beside this file confirm the header and, for containers,
// read the structure (OLE directory, zip central directory) with positioned reads only.
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { fileTypeFromBuffer, fileTypeFromFile, fileTypeFromStream } from 'file-type';
import type { MediaFormat } from '@oapi-media/core';
import { classifyCompoundFile, hasCompoundFileSignature } from './compound-file.ts';
import {
  isAmrHeader, isBitmapHeader, isGifHeader, isJpegHeader, isMp3File, isMp4File, isPdfHeader, isPngHeader,
} from './media-headers.ts';
import { bufferReader, readAt, type PositionalReader } from './read-at.ts';
import { classifyZipArchive, hasZipSignature } from './zip-archive.ts';

/**
 * file-type's own sample size (its reasonableDetectionSizeInBytes, not exported): what it needs
 * for every magic number it knows. The stager keeps this many leading bytes of every upload.
 */
export const SNIFF_BYTES = 4100;

/** What the stager already knows of a file: its size and its first SNIFF_BYTES bytes. */
export interface FileSample {
  size: number;
  head: Buffer;
}

/** Bytes already in the blob store (an upload session's assembled object): read by range, or as a stream from the start. */
export interface StoredBytes {
  size: number;
  reader(): Promise<PositionalReader>;
  stream(): Promise<Readable>;
}

/**
 * Which of the product's formats (api.md "POST /media/upload", and Feishu's) the bytes at `source` (a file's path, or
 * the whole content of a small upload held in memory) are, or null for anything else. With a
 * `sample` from the stager, simple formats are decided without opening the file at all; the file
 * is opened only for structure checks (OLE directory, zip directory, mp3 frames, mp4 boxes).
 */
export async function detectFormat(source: string | Buffer | StoredBytes, sample?: FileSample): Promise<MediaFormat | null> {
  if (isStoredBytes(source)) {
    const head = sample?.head ?? (await readAt(await source.reader(), 0, SNIFF_BYTES));
    let reader: Promise<PositionalReader> | undefined;
    return decide(source.size, head, () => (reader ??= source.reader()), source);
  }
  if (typeof source !== 'string') {
    return decide(source.length, source.subarray(0, SNIFF_BYTES), async () => bufferReader(source), source);
  }
  let opened: FileHandle | undefined;
  const file = async (): Promise<FileHandle> => (opened ??= await open(source, 'r'));
  try {
    const size = sample?.size ?? (await (await file()).stat()).size;
    const head = sample?.head ?? (await readAt(await file(), 0, SNIFF_BYTES));
    return await decide(size, head, file, source);
  } finally {
    await opened?.close();
  }
}

async function decide(
  size: number,
  head: Buffer,
  file: () => Promise<PositionalReader>,
  source: string | Buffer | StoredBytes,
): Promise<MediaFormat | null> {
  if (size === 0) return null;
  // Containers are decided by their directories, not their first bytes.
  if (hasCompoundFileSignature(head)) return await classifyCompoundFile(await file(), size);
  if (hasZipSignature(head)) return await classifyZipArchive(await file(), size);
  const isoMedia = head.toString('latin1', 4, 8) === 'ftyp';
  if (isoMedia && (await isMp4File(await file(), head))) return 'mp4';

  const magic = await magicNumberOf(source, head, size);
  // An ISO media file that is not mp4 is a HEIF image or nothing the product knows.
  if (isoMedia && magic !== 'heic') return null;
  switch (magic) {
    case 'jpg': return isJpegHeader(head) ? 'jpg' : null;
    case 'png':
    case 'apng': return isPngHeader(head) ? 'png' : null; // an animated PNG is a valid PNG
    case 'gif': return isGifHeader(head) ? 'gif' : null;
    case 'bmp': return isBitmapHeader(head, size) ? 'bmp' : null;
    case 'amr': return isAmrHeader(head) ? 'amr' : null;
    case 'mp3': return (await isMp3File(await file(), size)) ? 'mp3' : null;
    case 'wav': return 'wav'; // file-type checked RIFF....WAVE
    case 'pdf':
    case 'ai': return isPdfHeader(head) ? 'pdf' : null; // PDF-compatible Illustrator files are PDFs
    case 'rar': return 'rar'; // RAR 4 or RAR 5 signature
    // Feishu's further image formats and its audio, by file-type's checks alone (RIFF....WEBP,
    // the ICO directory, the TIFF byte order + 42, the HEIF ftyp brands, an Ogg stream's OpusHead).
    case 'webp': return 'webp';
    case 'ico': return 'ico';
    case 'tif': return 'tiff';
    case 'heic': return isoMedia ? 'heic' : null;
    case 'opus': return 'opus';
    default: return null;
  }
}

/**
 * file-type's extension for the file, or undefined: from the head when that is enough, else from
 * the file (e.g. an mp3 behind a long ID3 tag). A malformed file is "unknown"; an I/O error throws.
 */
async function magicNumberOf(source: string | Buffer | StoredBytes, head: Buffer, size: number): Promise<string | undefined> {
  try {
    const fromHead = (await fileTypeFromBuffer(head))?.ext;
    if (fromHead !== undefined || size <= head.length) return fromHead;
    if (isStoredBytes(source)) {
      const stream = await source.stream();
      try {
        return (await fileTypeFromStream(stream))?.ext;
      } finally {
        stream.destroy();
      }
    }
    return (typeof source === 'string' ? await fileTypeFromFile(source) : await fileTypeFromBuffer(source))?.ext;
  } catch (error) {
    if (error instanceof Error && 'syscall' in error) throw error;
    return undefined; // e.g. EndOfStreamError on a truncated header
  }
}

function isStoredBytes(source: string | Buffer | StoredBytes): source is StoredBytes {
  return typeof source === 'object' && !Buffer.isBuffer(source);
}
