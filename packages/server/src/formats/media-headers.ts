// Checks, beyond file-type's few magic bytes, that a header really is what it claims: a text
// file that happens to start with "BM" or "GIF" is not an image, and an ftyp box is mp4 only
// for the brands below. Each check reads at most a few KiB.
import { readAt, type PositionalReader } from './read-at.ts';

/** GIF87a or GIF89a: "GIF" alone is also the start of plain text. */
export function isGifHeader(head: Buffer): boolean {
  const signature = head.toString('latin1', 0, 6);
  return signature === 'GIF87a' || signature === 'GIF89a';
}

/** The PNG signature followed by the 13-byte IHDR chunk the PNG spec requires first. */
export function isPngHeader(head: Buffer): boolean {
  return head.length >= 16 && head.readUInt32BE(8) === 13 && head.toString('latin1', 12, 16) === 'IHDR';
}

export function isJpegHeader(head: Buffer): boolean {
  return head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
}

/** RFC 4867 section 5: the single-channel AMR (narrow-band) and AMR-WB storage formats. */
export function isAmrHeader(head: Buffer): boolean {
  return head.toString('latin1', 0, 6) === '#!AMR\n' || head.toString('latin1', 0, 9) === '#!AMR-WB\n';
}

export function isPdfHeader(head: Buffer): boolean {
  return head.toString('latin1', 0, 5) === '%PDF-';
}

const BITMAP_INFO_HEADER_SIZES = new Set([12, 40, 52, 56, 64, 108, 124]);
const BITMAP_BITS_PER_PIXEL = new Set([1, 4, 8, 16, 24, 32]);

/** BITMAPFILEHEADER + a known DIB header with sane planes, depth and pixel-data offset. */
export function isBitmapHeader(head: Buffer, fileSize: number): boolean {
  if (head.length < 30 || head.toString('latin1', 0, 2) !== 'BM') return false;
  const pixelDataOffset = head.readUInt32LE(10);
  const infoHeaderSize = head.readUInt32LE(14);
  if (!BITMAP_INFO_HEADER_SIZES.has(infoHeaderSize)) return false;
  if (pixelDataOffset < 14 + infoHeaderSize || pixelDataOffset >= fileSize) return false;
  if (infoHeaderSize === 12) {
    // BITMAPCOREHEADER (OS/2): 16-bit width and height
    return head.readUInt16LE(18) > 0 && head.readUInt16LE(20) > 0 && head.readUInt16LE(22) === 1
      && BITMAP_BITS_PER_PIXEL.has(head.readUInt16LE(24));
  }
  return head.readInt32LE(18) > 0 && head.readInt32LE(22) !== 0 && head.readUInt16LE(26) === 1
    && BITMAP_BITS_PER_PIXEL.has(head.readUInt16LE(28));
}

/**
 * ISO base media files count as mp4 when their major brand is one of MP4_BRANDS (ISO 14496-12
 * isom/iso2..iso9, ISO 14496-14 mp41/mp42, avc1, DASH, Apple M4V, Sony MSNV/XAVC), or when the
 * major brand is unknown and a compatible brand is one of them. QuickTime (qt), audio-only
 * (M4A/M4B), protected (M4P), 3GPP, HEIF/AVIF images and camera raw (crx) are other formats
 * even when they list isom as compatible.
 */
const MP4_BRANDS = new Set([
  'isom', 'iso2', 'iso3', 'iso4', 'iso5', 'iso6', 'iso7', 'iso8', 'iso9',
  'mp41', 'mp42', 'mp71', 'avc1', 'dash', 'M4V ', 'M4VH', 'M4VP', 'MSNV', 'XAVC',
]);
const OTHER_ISO_MEDIA_BRANDS = new Set([
  'qt  ', 'M4A ', 'M4B ', 'M4P ', 'F4A ', 'F4B ', 'mif1', 'msf1', 'heic', 'heix', 'hevc', 'hevx',
  'avif', 'avis', 'crx ', 'jp2 ', 'jpx ', 'mjp2',
]);
const MAX_FTYP_BYTES = 4096;

export async function isMp4File(file: PositionalReader, head: Buffer): Promise<boolean> {
  if (head.length < 16 || head.toString('latin1', 4, 8) !== 'ftyp') return false;
  const boxSize = head.readUInt32BE(0);
  if (boxSize < 16 || boxSize > MAX_FTYP_BYTES) return false;
  const box = await readAt(file, 0, boxSize);
  if (box.length < boxSize) return false;
  const majorBrand = box.toString('latin1', 8, 12);
  if (MP4_BRANDS.has(majorBrand)) return true;
  if (OTHER_ISO_MEDIA_BRANDS.has(majorBrand) || majorBrand.startsWith('3g')) return false;
  for (let at = 16; at + 4 <= boxSize; at += 4) {
    if (MP4_BRANDS.has(box.toString('latin1', at, at + 4))) return true;
  }
  return false;
}

// ISO 11172-3 / 13818-3 Layer III: kbit/s by bitrate index, Hz by sampling-rate index.
const LAYER3_BITRATES_MPEG1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const LAYER3_BITRATES_MPEG2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const SAMPLE_RATES: Readonly<Record<number, readonly number[]>> = {
  3: [44100, 48000, 32000], // MPEG-1
  2: [22050, 24000, 16000], // MPEG-2
  0: [11025, 12000, 8000], // MPEG-2.5
};
const MAX_ID3_TAGS = 4;

/** Length in bytes of the MPEG Layer III frame whose 4-byte header this is; 0 for free format; null if invalid. */
export function layer3FrameLength(header: Buffer): number | null {
  if (header.length < 4 || header[0] !== 0xff || (header[1]! & 0xe0) !== 0xe0) return null;
  const version = (header[1]! >> 3) & 0x3;
  const layer = (header[1]! >> 1) & 0x3;
  const bitrateIndex = header[2]! >> 4;
  const sampleRateIndex = (header[2]! >> 2) & 0x3;
  if (version === 1 || layer !== 1 || bitrateIndex === 15 || sampleRateIndex === 3 || (header[3]! & 0x3) === 2) {
    return null;
  }
  if (bitrateIndex === 0) return 0;
  const padding = (header[2]! >> 1) & 0x1;
  const sampleRate = SAMPLE_RATES[version]![sampleRateIndex]!;
  const kbps = (version === 3 ? LAYER3_BITRATES_MPEG1 : LAYER3_BITRATES_MPEG2)[bitrateIndex]!;
  const samplesPerByte = version === 3 ? 144 : 72;
  return Math.floor((samplesPerByte * kbps * 1000) / sampleRate) + padding;
}

/**
 * MP3: optional ID3v2 tags, then a valid Layer III frame header; when the file is long enough,
 * the next frame header must follow where the first frame's length says.
 */
export async function isMp3File(file: PositionalReader, fileSize: number): Promise<boolean> {
  let position = 0;
  for (let tags = 0; tags < MAX_ID3_TAGS; tags++) {
    const tag = await readAt(file, position, 10);
    if (tag.length < 10 || tag.toString('latin1', 0, 3) !== 'ID3') break;
    if (tag[3] === 0xff || tag[4] === 0xff || ((tag[6]! | tag[7]! | tag[8]! | tag[9]!) & 0x80) !== 0) return false;
    const bodySize = (tag[6]! << 21) | (tag[7]! << 14) | (tag[8]! << 7) | tag[9]!; // syncsafe
    const footerSize = (tag[5]! & 0x10) !== 0 ? 10 : 0;
    position += 10 + bodySize + footerSize;
  }
  const first = await readAt(file, position, 4);
  const frameLength = layer3FrameLength(first);
  if (frameLength === null) return false;
  if (frameLength === 0 || position + frameLength + 4 > fileSize) return true;
  return layer3FrameLength(await readAt(file, position + frameLength, 4)) !== null;
}
