// Secrets the server must be able to read back (suite secrets, issue 8), sealed with AES-256-GCM
// under a key derived (HKDF) from the server secret key. The database holds only the sealed form,
// so a leaked database without the key (data folder's secret.key or OAPI_MEDIA_SECRET_KEY) leaks
// nothing. A hash would not do: checking a get_corp_token signature means computing
// HMAC-SHA256 keyed with the secret itself.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

export class SecretBox {
  readonly #key: Buffer;

  /** `purpose` separates keys: a box for one kind of secret cannot open another's. */
  constructor(serverKey: Buffer, purpose: string) {
    this.#key = Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), `oapi-media secret-box ${purpose}`, 32));
  }

  /** `binding` (e.g. the row's id) must be given again to open it: a sealed value moved to another row fails. */
  seal(plaintext: string, binding: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(binding, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  open(sealed: string, binding: string): string {
    const [version, ivText, bodyText] = sealed.split('.');
    if (version !== VERSION || ivText === undefined || bodyText === undefined) throw new SecretBoxError('not a sealed secret');
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SecretBoxError('malformed sealed secret');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
      decipher.setAAD(Buffer.from(binding, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      // Another server key, a tampered row, or a value moved from another row.
      throw new SecretBoxError('sealed secret does not open with this server key');
    }
  }
}
