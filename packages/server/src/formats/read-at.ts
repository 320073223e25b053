import type { FileHandle } from 'node:fs/promises';

/**
 * Reads up to `length` bytes at `position` of an open file without moving any cursor.
 * The answer is shorter than `length` when the file ends first (never padded), so callers
 * can tell a truncated structure from a complete one.
 */
export async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}
