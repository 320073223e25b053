// Feishu's resolution limits of im/v1/images (GIF ≤ 2000×2000, others ≤ 12000×12000, an avatar ≤
// 4096×4096 -> 234039) need an image's width and height: read here from the header in the first
// bytes of the upload (the staged head), no decoding. PNG, GIF, BMP, WEBP, ICO and JPEG (when its
// frame header lies within the head) are read; TIFF and HEIC are not (their sizes sit behind offsets
// anywhere in the file), nor a JPEG whose frame header comes later: those pass unchecked.

export interface ImageResolution {
  kind: 'gif' | 'other';
  width: number;
  height: number;
}

export function imageResolutionOf(head: Buffer): ImageResolution | null {
  const at = (offset: number, length: number): string => head.toString('latin1', offset, offset + length);
  if (head.length >= 24 && at(1, 3) === 'PNG' && at(12, 4) === 'IHDR') {
    return { kind: 'other', width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  }
  if (head.length >= 10 && (at(0, 6) === 'GIF87a' || at(0, 6) === 'GIF89a')) {
    return { kind: 'gif', width: head.readUInt16LE(6), height: head.readUInt16LE(8) };
  }
  if (head.length >= 26 && at(0, 2) === 'BM') {
    // BITMAPCOREHEADER (12 bytes) has 16-bit sides; the others 32-bit, the height negative when top-down.
    if (head.readUInt32LE(14) === 12) return { kind: 'other', width: head.readUInt16LE(18), height: head.readUInt16LE(20) };
    return { kind: 'other', width: Math.abs(head.readInt32LE(18)), height: Math.abs(head.readInt32LE(22)) };
  }
  if (head.length >= 30 && at(0, 4) === 'RIFF' && at(8, 4) === 'WEBP') return webpResolution(head);
  if (head.length >= 22 && head.readUInt32BE(0) === 0x00000100) return iconResolution(head);
  if (head.length >= 4 && head[0] === 0xff && head[1] === 0xd8) return jpegResolution(head);
  return null;
}

function webpResolution(head: Buffer): ImageResolution | null {
  const chunk = head.toString('latin1', 12, 16);
  if (chunk === 'VP8X') return { kind: 'other', width: 1 + head.readUIntLE(24, 3), height: 1 + head.readUIntLE(27, 3) };
  if (chunk === 'VP8L' && head[20] === 0x2f) {
    const bits = head.readUInt32LE(21);
    return { kind: 'other', width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
  }
  if (chunk === 'VP8 ' && head.length >= 30) return { kind: 'other', width: head.readUInt16LE(26) & 0x3fff, height: head.readUInt16LE(28) & 0x3fff };
  return null;
}

/** The largest image of an ICO directory (a side of 0 means 256). */
function iconResolution(head: Buffer): ImageResolution | null {
  const count = head.readUInt16LE(4);
  let width = 0;
  let height = 0;
  for (let i = 0; i < count && 6 + 16 * (i + 1) <= head.length; i++) {
    width = Math.max(width, head[6 + 16 * i] || 256);
    height = Math.max(height, head[7 + 16 * i] || 256);
  }
  return count > 0 ? { kind: 'other', width, height } : null;
}

/** The first start-of-frame segment (SOF0..SOF15 but DHT, JPG and DAC) within the head. */
function jpegResolution(head: Buffer): ImageResolution | null {
  let offset = 2;
  while (offset + 9 <= head.length && head[offset] === 0xff) {
    const marker = head[offset + 1]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { kind: 'other', width: head.readUInt16BE(offset + 7), height: head.readUInt16BE(offset + 5) };
    }
    offset += 2 + head.readUInt16BE(offset + 2);
  }
  return null;
}
