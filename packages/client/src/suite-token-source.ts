// Access tokens of a third-party suite for one authorizing organization (issue 8):
// POST /service/get_corp_token?accessKey=&timestamp=&suiteTicket=&signature= with body
// {"auth_corpid"}, signed as DingTalk's SDKs sign it (docs/suites.md). Cached and refreshed
// like an app's token by CachingTokenSource; this only builds (and signs) the request.

import { apiUrl } from './api-url.ts';
import { CachingTokenSource, type CachingTokenSourceOptions, type TokenRequest } from './caching-token-source.ts';

export interface SuiteCredentials {
  suiteKey: string;
  suiteSecret: string;
  /** The organization's corpid (`ding` + 32 hex) whose token this is. */
  authCorpId: string;
  /** A fixed ticket; or getSuiteTicket, asked before every token fetch (tickets rotate). */
  suiteTicket?: string;
  getSuiteTicket?: () => string | Promise<string>;
}

/** `now` is also the clock of the signed timestamp. */
export interface SuiteTokenSourceOptions extends SuiteCredentials, CachingTokenSourceOptions {
  baseUrl: string;
}

/**
 * DingTalk's signature: Base64(HMAC-SHA256(key = suiteSecret, timestamp + "\n" + suiteTicket)),
 * not yet URL-encoded. Web Crypto, so the SDK needs no dependency (Node 20, browsers).
 */
export async function suiteSignature(suiteSecret: string, timestamp: string, suiteTicket: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await globalThis.crypto.subtle.importKey('raw', encoder.encode(suiteSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, encoder.encode(`${timestamp}\n${suiteTicket}`)));
  return btoa(String.fromCharCode(...mac));
}

/** Throws a TypeError naming what is missing from suite credentials. */
export function checkSuiteCredentials(credentials: Partial<SuiteCredentials>): void {
  for (const name of ['suiteKey', 'suiteSecret', 'authCorpId'] as const) {
    if (typeof credentials[name] !== 'string' || credentials[name] === '') throw new TypeError(`suite credentials need ${name}`);
  }
  const hasTicket = typeof credentials.suiteTicket === 'string' && credentials.suiteTicket !== '';
  if (hasTicket === (typeof credentials.getSuiteTicket === 'function')) {
    throw new TypeError('suite credentials need exactly one of suiteTicket and getSuiteTicket');
  }
}

export class SuiteTokenSource extends CachingTokenSource {
  constructor(options: SuiteTokenSourceOptions) {
    checkSuiteCredentials(options);
    super(options, () => corpTokenRequest(options, options.now ?? Date.now));
  }
}

/** Each try signs anew: a fresh timestamp, and the ticket as it is now. */
async function corpTokenRequest(options: SuiteTokenSourceOptions, now: () => number): Promise<TokenRequest> {
  const { baseUrl, suiteKey, suiteSecret, authCorpId } = options;
  const suiteTicket = options.suiteTicket ?? (await options.getSuiteTicket!());
  const timestamp = String(now());
  const signature = await suiteSignature(suiteSecret, timestamp, suiteTicket);
  return {
    // apiUrl encodes every value: the signature's + / = become %2B %2F %3D, as DingTalk expects.
    url: apiUrl(baseUrl, '/service/get_corp_token', { accessKey: suiteKey, timestamp, suiteTicket, signature }),
    init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth_corpid: authCorpId }) },
    name: 'POST /service/get_corp_token',
    answerName: 'get_corp_token',
  };
}
