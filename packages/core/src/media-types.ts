// The product's media: its four types and the formats it knows (by content and by extension).
// Which formats and sizes a type accepts is each wire's own table (wires/dingtalk.ts).

export const MiB = 1024 * 1024;

export const MEDIA_TYPES = ['image', 'voice', 'video', 'file'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

/** Formats by their canonical name; a format may be reached by several extensions (jpg/jpeg). */
export type MediaFormat =
  | 'jpg' | 'gif' | 'png' | 'bmp'
  | 'amr' | 'mp3' | 'wav'
  | 'mp4'
  | 'doc' | 'docx' | 'xls' | 'xlsx' | 'ppt' | 'pptx' | 'zip' | 'pdf' | 'rar'
  // Feishu's image formats beyond the four above, and its only audio (Ogg Opus).
  | 'webp' | 'ico' | 'tiff' | 'heic' | 'opus';

/**
 * What a media row records as its format: one the product recognizes, or 'bin' for bytes of no
 * known format, which only a rule with `anyFormat` accepts (WeCom's `file` type takes any format).
 */
export type StoredFormat = MediaFormat | 'bin';

export interface MediaTypeRule {
  /** Largest accepted file, in bytes, inclusive (api.md "POST /media/upload": limit passes, limit + 1 fails with 40006). */
  readonly maxBytes: number;
  /** Smallest accepted file, in bytes, inclusive; a non-empty file below it is refused (`mediaTooSmall`). Default 1. */
  readonly minBytes?: number;
  readonly formats: readonly MediaFormat[];
  /** Any bytes pass, whatever their format or file name (the formats then only name what is recognized). */
  readonly anyFormat?: boolean;
}

/** A wire's limits: what each media type accepts. */
export type MediaLimits = Readonly<Record<MediaType, MediaTypeRule>>;

/** The largest limit of any type: what a body may carry before its type is known. */
export function largestMediaBytes(limits: MediaLimits): number {
  return Math.max(...Object.values(limits).map((rule) => rule.maxBytes));
}

/** File-name extensions (lower case, no dot) and the format each one names. */
export const EXTENSION_FORMATS: Readonly<Record<string, MediaFormat>> = Object.freeze({
  jpg: 'jpg', jpeg: 'jpg', gif: 'gif', png: 'png', bmp: 'bmp',
  amr: 'amr', mp3: 'mp3', wav: 'wav',
  mp4: 'mp4',
  doc: 'doc', docx: 'docx', xls: 'xls', xlsx: 'xlsx', ppt: 'ppt', pptx: 'pptx',
  zip: 'zip', pdf: 'pdf', rar: 'rar',
  webp: 'webp', ico: 'ico', tif: 'tiff', tiff: 'tiff', heic: 'heic', opus: 'opus',
});

/** The Content-Type a download of each format carries. */
export const FORMAT_CONTENT_TYPES: Readonly<Record<StoredFormat, string>> = Object.freeze({
  jpg: 'image/jpeg', gif: 'image/gif', png: 'image/png', bmp: 'image/bmp',
  amr: 'audio/amr', mp3: 'audio/mpeg', wav: 'audio/wav',
  mp4: 'video/mp4',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  zip: 'application/zip', pdf: 'application/pdf', rar: 'application/vnd.rar',
  webp: 'image/webp', ico: 'image/x-icon', tiff: 'image/tiff', heic: 'image/heic', opus: 'audio/ogg',
  bin: 'application/octet-stream',
});

export function isMediaType(value: unknown): value is MediaType {
  return typeof value === 'string' && (MEDIA_TYPES as readonly string[]).includes(value);
}

/** The extension of a file name, lower case without the dot; '' when it has none. */
export function extensionOf(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}
