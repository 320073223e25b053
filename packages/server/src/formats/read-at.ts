import type { FileHandle } from 'node:fs/promises';

/**
 * What the format checks read from: an open file, or the bytes of a small upload held in memory
 * (bufferReader). The shape is FileHandle's own positioned read.
 */
export type PositionalReader = Pick<FileHandle, 'read'>;

/** A PositionalReader over bytes in memory, answering exactly as a file of those bytes would. */
export function bufferReader(bytes: Buffer): PositionalReader {
  return {
    async read(buffer: Buffer, offset: number, length: number, position: number) {
      const start = Math.min(position, bytes.length);
      const bytesRead = bytes.copy(buffer, offset, start, Math.min(start + length, bytes.length));
      return { bytesRead, buffer };
    },
  } as PositionalReader;
}

/**
 * Reads up to `length` bytes at `position` of an open file without moving any cursor.
 * The answer is shorter than `length` when the file ends first (never padded), so callers
 * can tell a truncated structure from a complete one.
 */
export async function readAt(file: PositionalReader, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** A PositionalReader over ranged reads of something `size` bytes long (an object in the blob store). */
export function rangeReader(size: number, readRange: (start: number, end: number) => Promise<AsyncIterable<Buffer>>): PositionalReader {
  return {
    async read(buffer: Buffer, offset: number, length: number, position: number) {
      const end = Math.min(position + length, size);
      if (end <= position) return { bytesRead: 0, buffer };
      let bytesRead = 0;
      for await (const bytes of await readRange(position, end - 1)) {
        bytesRead += bytes.copy(buffer, offset + bytesRead, 0, Math.min(bytes.length, end - position - bytesRead));
      }
      return { bytesRead, buffer };
    },
  } as PositionalReader;
}
