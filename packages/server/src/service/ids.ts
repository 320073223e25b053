// Identifiers and secrets. All random, all URL-safe (api.md "Notes": SDKs paste them into URLs unencoded).

import { createHash, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

/**
 * Cryptographically random bytes, drawn from a pool refilled 4 KiB at a time (as node's own
 * randomUUID does): one randomBytes call costs ~2.3 µs here, and every upload needs several ids.
 * Each byte is handed out once.
 */
const randomPool = Buffer.alloc(4096);
let randomPoolOffset = randomPool.length;
function randomBytes(count: number): Buffer {
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

/** api.md "POST /media/upload": '@' + URL-safe characters, ≥ 128 bits of randomness, revealing nothing. 144 bits here. */
export const newMediaId = (): string => `@${base64url(randomBytes(18))}`;
export const MEDIA_ID_PATTERN = /^@[A-Za-z0-9_-]{16,64}$/;

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
