// Identifiers and secrets. All random, all URL-safe (api.md "Notes": SDKs paste them into URLs unencoded).

import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import type { MediaType, Wire } from '@oapi-media/core';

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

/**
 * Cryptographically random bytes, drawn from a pool refilled 4 KiB at a time (as node's own
 * randomUUID does): one randomBytes call costs ~2.3 µs here, and every upload needs several ids.
 * Each byte is handed out once.
 */
const randomPool = Buffer.alloc(4096);
let randomPoolOffset = randomPool.length;
function randomBytes(count: number): Buffer {
  const seeded = idRandomness.getStore();
  if (seeded !== undefined) return seeded.bytes(count);
  if (count > randomPool.length) return randomFillSync(Buffer.alloc(count));
  if (randomPoolOffset + count > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const bytes = Buffer.from(randomPool.subarray(randomPoolOffset, randomPoolOffset + count));
  randomPool.fill(0, randomPoolOffset, randomPoolOffset + count);
  randomPoolOffset += count;
  return bytes;
}
export { randomBytes as randomIdBytes };

/** Where ids draw their bytes from instead of the system's randomness (the emulator's --seed). */
export interface IdRandomSource {
  bytes(count: number): Buffer;
}

/**
 * Bytes that follow from a seed alone: SHA-256 of (seed, stream, block number), block after block.
 * Not secret and not meant to be: the emulator's ids repeat run after run under the same seed.
 */
export class SeededRandom implements IdRandomSource {
  readonly #prefix: string;
  #block = 0;
  #buffered = Buffer.alloc(0);

  constructor(seed: number | string, stream = 'ids') {
    this.#prefix = `oapi-media seed ${seed} ${stream} `;
  }

  bytes(count: number): Buffer {
    const blocks = [this.#buffered];
    let available = this.#buffered.length;
    while (available < count) {
      const block = createHash('sha256').update(`${this.#prefix}${this.#block++}`).digest();
      blocks.push(block);
      available += block.length;
    }
    const all = Buffer.concat(blocks, available);
    this.#buffered = all.subarray(count);
    return Buffer.from(all.subarray(0, count));
  }

  /** A number in [0, 1), for probabilities. */
  fraction(): number {
    return this.bytes(6).readUIntBE(0, 6) / 2 ** 48;
  }
}

/**
 * The id source of the code running now: set around each request of a seeded emulator (and its
 * seeding), so that many emulators in one process each follow their own seed; unset, ids are random.
 */
export const idRandomness = new AsyncLocalStorage<IdRandomSource>();

/** api.md "POST /media/upload": '@' + URL-safe characters, ≥ 128 bits of randomness, revealing nothing. 144 bits here. */
export const newMediaId = (): string => `@${base64url(randomBytes(18))}`;
export const MEDIA_ID_PATTERN = /^@[A-Za-z0-9_-]{16,64}$/;

/**
 * DingTalk's large-file namespace (issue 18): ids of /file/upload/single, the chunked upload and tus
 * start with '#', as DingPan's do, so that /media/* and the chunk API never read each other's ids.
 * A committed session's id is derived from its upload id (a hash: the upload id is the secret), so
 * that a commit retried after a lost answer, or a tus HEAD after completion, finds the same media.
 */
export const newChunkedMediaId = (): string => `#${base64url(randomBytes(18))}`;
export const chunkedMediaIdOf = (sessionId: string): string => `#${createHash('sha256').update(`session:${sessionId}`).digest().subarray(0, 18).toString('base64url')}`;
export const CHUNKED_MEDIA_ID_PATTERN = /^#[A-Za-z0-9_-]{16,64}$/;
/** An upload session's id (DingTalk's upload_id, tus's URL key): 192 random bits, URL-safe. */
export const newUploadSessionId = (): string => base64url(randomBytes(24));
export const UPLOAD_SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;

const uuidShaped = (bytes: Buffer): string => bytes.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
export const FEISHU_KEY_PATTERN = /^(img|file)_v2_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Each wire's media ids, shaped like that wire's own, so that the namespaces cannot overlap:
 * DingTalk '@…'; WeCom 44 URL-safe characters starting with a digit (its temporary media_id, e.g.
 * 1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0; 258 bits here); Feishu 'img_v2_…' for an image
 * (its image_key) and 'file_v2_…' for any other (its file_key), each followed by 128 random bits
 * written as a UUID (Feishu's own keys look like img_v2_041b28e3-5680-48c2-9af2-497ace79333g).
 */
export const MEDIA_IDS: Readonly<Record<Wire, { create(type: MediaType): string; pattern: RegExp }>> = Object.freeze({
  dingtalk: { create: newMediaId, pattern: MEDIA_ID_PATTERN },
  wecom: { create: () => `${1 + (randomBytes(1)[0]! % 9)}${base64url(randomBytes(32))}`, pattern: /^[1-9][A-Za-z0-9_-]{43}$/ },
  feishu: { create: (type) => `${type === 'image' ? 'img' : 'file'}_v2_${uuidShaped(randomBytes(16))}`, pattern: FEISHU_KEY_PATTERN },
});

/**
 * A published image (WeCom's uploadimg): its URL carries a random key of 256 bits; the row's
 * media_id is that key's hash, so that a copy of the database does not hold the URLs.
 */
export const newPublicImageKey = (): string => base64url(randomBytes(32));
export const PUBLIC_IMAGE_KEY_PATTERN = /^[A-Za-z0-9_-]{43}$/;
export const publicImageMediaId = (urlKey: string): string => `img:${sha256Hex(urlKey)}`;

export const newId = (): string => base64url(randomBytes(12));
/** Internal name of the bytes in the BlobStore; unrelated to the media_id. */
export const newBlobKey = (): string => randomBytes(16).toString('hex');
/**
 * The blobKey of a media whose bytes the metadata store keeps with its row (never a BlobStore key).
 * Time first, so that the unique index on blob_key grows at its end instead of at random pages.
 */
export const newInlineBlobKey = (): string => `inline:${Date.now().toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
export const isInlineBlobKey = (blobKey: string): boolean => blobKey.startsWith('inline:');
export const newAppKey = (): string => `ding${randomBytes(10).toString('hex')}`;
export const newAppSecret = (): string => base64url(randomBytes(32));

/**
 * Each wire's credentials, in that wire's own shapes: DingTalk appkey 'ding' + 20 hex and a
 * 43-character appsecret; WeCom corpid 'ww' + 16 hex and a 43-character corpsecret; Feishu
 * app_id 'cli_' + 16 hex and a 32-character app_secret.
 */
export const APP_CREDENTIALS: Readonly<Record<Wire, { key(): string; secret(): string }>> = Object.freeze({
  dingtalk: { key: newAppKey, secret: newAppSecret },
  wecom: { key: () => `ww${randomBytes(8).toString('hex')}`, secret: newAppSecret },
  feishu: { key: () => `cli_${randomBytes(8).toString('hex')}`, secret: () => base64url(randomBytes(24)) },
});
/** DingTalk-style corp id: 'ding' + 32 hex characters. */
export const newCorpId = (): string => `ding${randomBytes(16).toString('hex')}`;
export const newTokenNonce = (): string => randomBytes(16).toString('hex');

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');

/**
 * A token is derived from a stored, non-secret nonce with a key the database never holds, so that
 * /gettoken can answer the same token again while only its hash is stored (api.md "GET /gettoken").
 */
export function deriveToken(key: Buffer, nonce: string): string {
  return base64url(createHmac('sha256', key).update(nonce).digest());
}
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Compares two hex digests in constant time (no early exit on the first differing byte). */
export function sameDigest(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
