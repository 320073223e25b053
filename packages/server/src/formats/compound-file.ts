// Tells doc / xls / ppt apart inside an OLE compound file (MS-CFB) by the names of the
// streams directly under the Root Entry, reading only the header, the FAT sectors the
// directory chain needs, and the directory itself (positioned reads, every loop bounded).
import { readAt, type PositionalReader } from './read-at.ts';

export type CompoundFileFormat = 'doc' | 'xls' | 'ppt';

const SIGNATURE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const HEADER_BYTES = 512;
const HEADER_DIFAT_ENTRIES = 109;
const MAX_REGULAR_SECTOR = 0xfffffffa;
const END_OF_CHAIN = 0xfffffffe;
const NO_STREAM = 0xffffffff;
const DIRECTORY_ENTRY_BYTES = 128;
const ROOT_STORAGE = 5;
const STREAM_OBJECT = 2;
/** Real documents have a few dozen directory entries; 16,384 (2 MiB of directory) is far beyond any. */
const MAX_DIRECTORY_ENTRIES = 16_384;

/** The stream that marks each binary Office format (MS-DOC, MS-XLS, MS-PPT), upper case. */
const MAIN_STREAMS: ReadonlyArray<readonly [string, CompoundFileFormat]> = [
  ['WORDDOCUMENT', 'doc'],
  ['WORKBOOK', 'xls'], // BIFF8 (Excel 97 and later)
  ['BOOK', 'xls'], // BIFF5 (Excel 5 / 95)
  ['POWERPOINT DOCUMENT', 'ppt'],
];

export function hasCompoundFileSignature(head: Buffer): boolean {
  return head.length >= SIGNATURE.length && head.subarray(0, SIGNATURE.length).equals(SIGNATURE);
}

/** doc, xls or ppt; null for any other compound file (msi, msg, encrypted OOXML...) or a malformed one. */
export async function classifyCompoundFile(file: PositionalReader, fileSize: number): Promise<CompoundFileFormat | null> {
  const directory = await readCompoundDirectory(file, fileSize);
  if (directory === null) return null;
  const found = new Set<CompoundFileFormat>();
  for (const name of rootStreamNames(directory)) {
    for (const [streamName, format] of MAIN_STREAMS) {
      if (name.toUpperCase() === streamName) found.add(format);
    }
  }
  // A root holding the main streams of two formats is not a document any Office program writes.
  return found.size === 1 ? [...found][0]! : null;
}

/** The directory entries (128 bytes each), or null when the header or a chain is malformed. */
async function readCompoundDirectory(file: PositionalReader, fileSize: number): Promise<Buffer[] | null> {
  const header = await readAt(file, 0, HEADER_BYTES);
  if (header.length < HEADER_BYTES || !hasCompoundFileSignature(header)) return null;
  if (header.readUInt16LE(28) !== 0xfffe) return null; // byte order mark
  const sectorShift = header.readUInt16LE(30);
  if (sectorShift !== 9 && sectorShift !== 12) return null; // version 3 or 4
  const sectorSize = 1 << sectorShift;
  const fatEntriesPerSector = sectorSize / 4;
  // Sector n starts at (n + 1) * sectorSize: the header takes the place of sector -1.
  const sectorsInFile = Math.ceil((fileSize - sectorSize) / sectorSize);
  if (sectorsInFile <= 0) return null;
  const fatSectorCount = header.readUInt32LE(44);
  const firstDirectorySector = header.readUInt32LE(48);
  const firstDifatSector = header.readUInt32LE(68);
  const difatSectorCount = header.readUInt32LE(72);
  if (fatSectorCount === 0 || fatSectorCount > sectorsInFile || difatSectorCount > sectorsInFile) return null;

  const isSectorInFile = (sector: number): boolean => sector <= MAX_REGULAR_SECTOR && sector < sectorsInFile;

  async function readSector(sector: number): Promise<Buffer | null> {
    if (!isSectorInFile(sector)) return null;
    const data = await readAt(file, (sector + 1) * sectorSize, sectorSize);
    if (data.length === 0) return null;
    // Some writers leave the last sector short; what is missing reads as zeros.
    return data.length === sectorSize ? data : Buffer.concat([data, Buffer.alloc(sectorSize - data.length)]);
  }

  // DIFAT sectors (beyond the header's 109 entries) are walked lazily, at most difatSectorCount of them.
  const difatSectors: Buffer[] = [];
  let nextDifatSector = firstDifatSector;
  async function fatSectorLocation(fatIndex: number): Promise<number | null> {
    if (fatIndex >= fatSectorCount) return null;
    if (fatIndex < HEADER_DIFAT_ENTRIES) return header.readUInt32LE(76 + 4 * fatIndex);
    const perDifatSector = fatEntriesPerSector - 1; // the last slot links to the next DIFAT sector
    const difatIndex = Math.floor((fatIndex - HEADER_DIFAT_ENTRIES) / perDifatSector);
    if (difatIndex >= difatSectorCount) return null;
    while (difatSectors.length <= difatIndex) {
      const data = await readSector(nextDifatSector);
      if (data === null) return null;
      difatSectors.push(data);
      nextDifatSector = data.readUInt32LE(sectorSize - 4);
    }
    return difatSectors[difatIndex]!.readUInt32LE(4 * ((fatIndex - HEADER_DIFAT_ENTRIES) % perDifatSector));
  }

  const fatSectors = new Map<number, Buffer>();
  async function nextInChain(sector: number): Promise<number | null> {
    const fatIndex = Math.floor(sector / fatEntriesPerSector);
    let fatSector = fatSectors.get(fatIndex);
    if (fatSector === undefined) {
      const location = await fatSectorLocation(fatIndex);
      const data = location === null ? null : await readSector(location);
      if (data === null) return null;
      fatSector = data;
      fatSectors.set(fatIndex, fatSector);
    }
    return fatSector.readUInt32LE(4 * (sector % fatEntriesPerSector));
  }

  const entries: Buffer[] = [];
  const maxDirectorySectors = Math.ceil((MAX_DIRECTORY_ENTRIES * DIRECTORY_ENTRY_BYTES) / sectorSize);
  const visited = new Set<number>();
  let sector = firstDirectorySector;
  while (sector !== END_OF_CHAIN) {
    if (visited.has(sector) || visited.size >= maxDirectorySectors) return null; // a cycle or an absurd chain
    visited.add(sector);
    const data = await readSector(sector);
    if (data === null) return null;
    for (let offset = 0; offset < sectorSize; offset += DIRECTORY_ENTRY_BYTES) {
      entries.push(data.subarray(offset, offset + DIRECTORY_ENTRY_BYTES));
    }
    const next = await nextInChain(sector);
    if (next === null) return null;
    sector = next;
  }
  return entries.length > 0 && entries[0]![66] === ROOT_STORAGE ? entries : null;
}

/** Names of the streams that are direct children of the Root Entry (a red-black tree of siblings). */
function rootStreamNames(entries: Buffer[]): string[] {
  const names: string[] = [];
  const seen = new Set<number>();
  const pending = [entries[0]!.readUInt32LE(76)];
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (id === NO_STREAM || id >= entries.length || seen.has(id)) continue;
    seen.add(id);
    const entry = entries[id]!;
    const nameBytes = entry.readUInt16LE(64); // including the terminating UTF-16 NUL
    if (entry[66] === STREAM_OBJECT && nameBytes >= 2 && nameBytes <= 64) {
      names.push(entry.toString('utf16le', 0, nameBytes - 2));
    }
    pending.push(entry.readUInt32LE(68), entry.readUInt32LE(72)); // left and right siblings
  }
  return names;
}
