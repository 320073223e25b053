// Tells docx / xlsx / pptx apart from a plain zip by the archive's central directory (found
// from the end-of-central-directory record at the end of the file) and the main-part content
// type that [Content_Types].xml declares. Only positioned reads: the first entries of a docx
// may be megabytes of word/media/... and the detector never reads them.
//
// Why not file-type's own zip reading (21.x reads the central directory by random access too):
// it says "zip" for any bytes that begin with a local header, "docx" for a docx cut short by
// 10 bytes, "xlsx" without _rels/.rels and "pptx" when ppt/presentation.xml is missing, and it
// takes the first `.main+xml"` it meets in [Content_Types].xml without its PartName. Those are
// the rules of this file (a readable central directory, else no format; _rels/.rels; one main
// part that the archive holds), and test/formats.test.ts pins each. What is left (finding and
// parsing the directory, zip64 included) is what those rules need; file-type exposes none of it.
import { inflateRawSync } from 'node:zlib';
import { readAt, type PositionalReader } from './read-at.ts';

export type ZipArchiveFormat = 'zip' | 'docx' | 'xlsx' | 'pptx';

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_END_SIGNATURE = 0x06064b50;
const END_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
/** A docx/xlsx/pptx central directory is a few KiB; past 4 MiB it is some other big archive. */
const MAX_CENTRAL_DIRECTORY_BYTES = 4 * 1024 * 1024;
/** [Content_Types].xml is a few KiB in practice; the cap bounds both the read and the inflate. */
const MAX_CONTENT_TYPES_BYTES = 1024 * 1024;

/** The main-part content types of ECMA-376 (strict macro-free documents only). */
const MAIN_CONTENT_TYPES: Readonly<Record<string, Exclude<ZipArchiveFormat, 'zip'>>> = {
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml': 'xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml': 'pptx',
};

interface CentralEntry {
  readonly name: string;
  readonly flags: number;
  readonly method: number;
  readonly compressedSize: number;
  readonly localHeaderOffset: number;
}

export function hasZipSignature(head: Buffer): boolean {
  if (head.length < 4 || head[0] !== 0x50 || head[1] !== 0x4b) return false;
  const marker = head.readUInt16LE(2);
  return marker === 0x0403 || marker === 0x0605; // a first entry, or an empty archive
}

/**
 * 'docx' / 'xlsx' / 'pptx' for an OOXML package (_rels/.rels, and [Content_Types].xml naming a
 * main part that the archive holds), 'zip' for any other readable archive (jar, epub, odt,
 * macro-enabled docm/xlsm/pptm and templates included), null when there is no valid central directory.
 */
export async function classifyZipArchive(file: PositionalReader, fileSize: number): Promise<ZipArchiveFormat | null> {
  const end = await findCentralDirectory(file, fileSize);
  if (end === null) return null;
  if (end.size > MAX_CENTRAL_DIRECTORY_BYTES) return 'zip';
  const directory = await readAt(file, end.offset, end.size);
  if (directory.length !== end.size) return null;
  const entries = parseCentralDirectory(directory, end.entryCount);
  if (entries === null) return null;

  const byName = new Map(entries.map((entry) => [entry.name.toLowerCase(), entry]));
  const contentTypesEntry = byName.get('[content_types].xml');
  if (contentTypesEntry === undefined || !byName.has('_rels/.rels')) return 'zip';
  const contentTypes = await readSmallEntry(file, contentTypesEntry);
  if (contentTypes === null) return 'zip';

  const found = new Set<ZipArchiveFormat>();
  for (const { partName, contentType } of overrides(contentTypes)) {
    const format = MAIN_CONTENT_TYPES[contentType.toLowerCase()];
    if (format !== undefined && byName.has(partName.replace(/^\//, '').toLowerCase())) found.add(format);
  }
  return found.size === 1 ? [...found][0]! : 'zip';
}

async function findCentralDirectory(
  file: PositionalReader,
  fileSize: number,
): Promise<{ offset: number; size: number; entryCount: number } | null> {
  const tailLength = Math.min(fileSize, END_BYTES + MAX_COMMENT_BYTES);
  const tailStart = fileSize - tailLength;
  const tail = await readAt(file, tailStart, tailLength);
  for (let at = tail.length - END_BYTES; at >= 0; at--) {
    if (tail.readUInt32LE(at) !== END_SIGNATURE) continue;
    if (at + END_BYTES + tail.readUInt16LE(at + 20) > tail.length) continue; // a signature inside the comment
    const endPosition = tailStart + at;
    const disk = tail.readUInt16LE(at + 4);
    const directoryDisk = tail.readUInt16LE(at + 6);
    let entryCount = tail.readUInt16LE(at + 10);
    let size = tail.readUInt32LE(at + 12);
    let offset = tail.readUInt32LE(at + 16);
    let recordStart = endPosition;
    if (entryCount === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
      if (endPosition < 20) return null;
      const locator = await readAt(file, endPosition - 20, 20);
      if (locator.readUInt32LE(0) !== ZIP64_LOCATOR_SIGNATURE) return null;
      recordStart = Number(locator.readBigUInt64LE(8));
      if (recordStart > endPosition - 20) return null;
      const record = await readAt(file, recordStart, 56);
      if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_END_SIGNATURE) return null;
      entryCount = Number(record.readBigUInt64LE(32));
      size = Number(record.readBigUInt64LE(40));
      offset = Number(record.readBigUInt64LE(48));
    } else if (disk !== 0 || directoryDisk !== 0) {
      return null; // split archives are not one file
    }
    if (offset + size > recordStart) return null;
    return { offset, size, entryCount };
  }
  return null;
}

function parseCentralDirectory(directory: Buffer, entryCount: number): CentralEntry[] | null {
  const entries: CentralEntry[] = [];
  let at = 0;
  for (let index = 0; index < entryCount; index++) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) return null;
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > directory.length) return null;
    const extra = directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    const sizes = zip64Sizes(
      directory.readUInt32LE(at + 24),
      directory.readUInt32LE(at + 20),
      directory.readUInt32LE(at + 42),
      extra,
    );
    if (sizes === null) return null;
    entries.push({
      name: directory.toString('utf8', at + 46, at + 46 + nameLength),
      flags: directory.readUInt16LE(at + 8),
      method: directory.readUInt16LE(at + 10),
      compressedSize: sizes.compressedSize,
      localHeaderOffset: sizes.localHeaderOffset,
    });
    at = next;
  }
  return entries;
}

/** APPNOTE 4.5.3: a 0xFFFFFFFF field is carried in the zip64 extra block (id 0x0001), in this order. */
function zip64Sizes(
  uncompressedSize: number,
  compressedSize: number,
  localHeaderOffset: number,
  extra: Buffer,
): { compressedSize: number; localHeaderOffset: number } | null {
  const needed = [uncompressedSize, compressedSize, localHeaderOffset].filter((v) => v === 0xffffffff).length;
  if (needed === 0) return { compressedSize, localHeaderOffset };
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      const values: number[] = [];
      for (let field = at + 4; field + 8 <= at + 4 + length && field + 8 <= extra.length; field += 8) {
        values.push(Number(extra.readBigUInt64LE(field)));
      }
      if (values.length < needed) return null;
      let next = 0;
      if (uncompressedSize === 0xffffffff) next++;
      if (compressedSize === 0xffffffff) compressedSize = values[next++]!;
      if (localHeaderOffset === 0xffffffff) localHeaderOffset = values[next++]!;
      return { compressedSize, localHeaderOffset };
    }
    at += 4 + length;
  }
  return null;
}

/** The text of a small stored or deflated entry; null when encrypted, too big, or unreadable. */
async function readSmallEntry(file: PositionalReader, entry: CentralEntry): Promise<string | null> {
  if ((entry.flags & 0x1) !== 0 || entry.compressedSize > MAX_CONTENT_TYPES_BYTES) return null;
  if (entry.method !== 0 && entry.method !== 8) return null;
  const local = await readAt(file, entry.localHeaderOffset, 30);
  if (local.length < 30 || local.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) return null;
  const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const data = await readAt(file, dataStart, entry.compressedSize);
  if (data.length !== entry.compressedSize) return null;
  if (entry.method === 0) return data.toString('utf8');
  try {
    return inflateRawSync(data, { maxOutputLength: MAX_CONTENT_TYPES_BYTES }).toString('utf8');
  } catch {
    return null; // corrupt deflate data, or it inflates past the cap
  }
}

/** The <Override PartName=... ContentType=...> elements of [Content_Types].xml. */
function* overrides(xml: string): Generator<{ partName: string; contentType: string }> {
  for (const element of xml.matchAll(/<(?:[\w.-]+:)?Override\b([^>]*)>/g)) {
    const attributes = element[1]!;
    const partName = /\bPartName\s*=\s*(["'])(.*?)\1/.exec(attributes)?.[2];
    const contentType = /\bContentType\s*=\s*(["'])(.*?)\1/.exec(attributes)?.[2];
    if (partName !== undefined && contentType !== undefined) yield { partName, contentType: contentType.trim() };
  }
}
