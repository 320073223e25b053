// The signature of POST /service/get_corp_token (issue 8), as DingTalk documents it and its SDKs
// compute it: Base64(HMAC-SHA256(key = suiteSecret, timestamp + "\n" + suiteTicket)), then
// URL-encoded into the query (docs/suites.md).

import { createHmac, timingSafeEqual } from 'node:crypto';

/** The Base64 signature, before URL encoding. */
export function suiteSignature(suiteSecret: string, timestamp: string, suiteTicket: string): string {
  return createHmac('sha256', suiteSecret).update(`${timestamp}\n${suiteTicket}`, 'utf8').digest('base64');
}

/**
 * The signature as the caller meant it, from the query value as parsed (percent-decoded once).
 * A '+' sent without encoding arrives as a space; a signature encoded twice (an SDK that encodes
 * it and then lets its HTTP library encode the query again) still has %XX in it.
 */
export function receivedSignature(value: string): string {
  let signature = value;
  if (/%[0-9A-Fa-f]{2}/.test(signature)) {
    try {
      signature = decodeURIComponent(signature);
    } catch {
      // Not an encoding after all: compared as it is, and fails.
    }
  }
  return signature.replaceAll(' ', '+');
}

/** Constant-time comparison (no early exit on the first differing character). */
export function signaturesMatch(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
