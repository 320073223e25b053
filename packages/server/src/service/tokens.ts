// Access tokens (api.md "GET /gettoken"): 7200 s, the same token again while valid (renewed to a full
// 7200 s), stored only as a hash.

import { ApiError, TOKEN_REUSE, type Wire } from '@oapi-media/core';
import type { App, MetadataStore } from '../stores/metadata/interface.ts';
import { deriveToken, newTokenNonce, sameDigest, sha256Hex, TOKEN_PATTERN } from './ids.ts';

export interface TokenGrant {
  accessToken: string;
  expiresIn: number;
}

/** Who is calling, once a token has been checked. */
export interface Caller {
  orgId: string;
  /** 'app:<id>' or 'suite:<id>': what the token was issued to. */
  principal: string;
  /** The wire the token was issued on, and so the only one it is accepted on. */
  wire: Wire;
}

export const appPrincipal = (appId: string): string => `app:${appId}`;

/** An appkey no app can have (newAppKey: 'ding' + 20 hex digits): the balancing miss. */
const NO_SUCH_APP_KEY = 'ding-no-such-app';

/** Any secret's hash: used when the appkey is unknown, so that a miss costs what a hit costs. */
const DECOY_SECRET_HASH = sha256Hex('oapi-media decoy secret');

export class TokenService {
  readonly #metadata: MetadataStore;
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** An existing appkey (found once), for the balancing lookup of an unknown one. */
  #knownAppKey: string | undefined;

  constructor(metadata: MetadataStore, key: Buffer, ttlSeconds: number, now: () => number) {
    this.#metadata = metadata;
    this.#key = key;
    this.#ttlMs = ttlSeconds * 1000;
    this.#now = now;
  }

  get ttlSeconds(): number {
    return this.#ttlMs / 1000;
  }

  /**
   * Checks appkey + appsecret; null when wrong. Constant time with respect to the secret, and to
   * whether the appkey exists: a lookup that finds a row costs more than one that does not, so
   * every check does one of each (a known key then one that cannot exist, or an unknown key then a real one).
   * An app of another wire is no match: its credentials work on its own wire only.
   */
  async authenticateApp(appKey: string, appSecret: string, wire: Wire): Promise<App | null> {
    const app = await this.#metadata.getAppByKey(appKey);
    // The same steps either way (no extra await on one path): only the key differs.
    let balancingKey = app ? NO_SUCH_APP_KEY : this.#knownAppKey;
    if (balancingKey === undefined) balancingKey = this.#knownAppKey = (await this.#metadata.listApps())[0]?.appKey; // once
    // A balancing app deleted since (app delete, org delete) is replaced by another at the next check.
    if (balancingKey !== undefined && !(await this.#metadata.getAppByKey(balancingKey)) && !app) this.#knownAppKey = undefined;
    const matches = sameDigest(sha256Hex(appSecret), app?.secretHash ?? DECOY_SECRET_HASH);
    return app && matches && app.wire === wire ? app : null;
  }

  /**
   * The principal's valid token again, or a new one, as the wire does (TOKEN_REUSE): DingTalk and
   * WeCom renew it to a full lifetime (api.md "GET /gettoken"); Feishu answers it unrenewed with the
   * seconds it has left, and a new one beside it once under 30 minutes are left.
   */
  async issue(principal: string, orgId: string, wire: Wire): Promise<TokenGrant> {
    const now = this.#now();
    const expiresAt = now + this.#ttlMs;
    const current = await this.#metadata.findValidToken(principal, orgId, now);
    const reuse = TOKEN_REUSE[wire];
    if (current && current.wire === wire) {
      if (reuse === 'renew') {
        await this.#metadata.renewToken(current.tokenHash, expiresAt);
        return { accessToken: deriveToken(this.#key, current.nonce), expiresIn: this.ttlSeconds };
      }
      const leftMs = current.expiresAt - now;
      if (leftMs >= reuse.reissueBelowMs) {
        return { accessToken: deriveToken(this.#key, current.nonce), expiresIn: Math.floor(leftMs / 1000) };
      }
      // Under the threshold: a new token, the newest issued, which findValidToken answers from now on.
    }
    const nonce = newTokenNonce();
    const accessToken = deriveToken(this.#key, nonce);
    await this.#metadata.insertToken({ tokenHash: sha256Hex(accessToken), nonce, principal, orgId, issuedAt: now, expiresAt, wire });
    return { accessToken, expiresIn: this.ttlSeconds };
  }

  /**
   * A token for an app that just authenticated, refused if the app's secret changed or the app went
   * meanwhile. rotate-secret and app delete change the row first and delete the app's tokens after:
   * a token stored before that deletion is removed by it, one stored after it is caught here.
   */
  async issueForApp(app: App): Promise<TokenGrant> {
    const grant = await this.issue(appPrincipal(app.id), app.orgId, app.wire);
    const current = await this.#metadata.getAppByKey(app.appKey);
    if (current?.secretHash !== app.secretHash) {
      await this.#metadata.deleteToken(sha256Hex(grant.accessToken));
      throw new ApiError('wrongCredentials');
    }
    return grant;
  }

  /**
   * The caller a token stands for; 41001 missing, 40014 unknown (or issued on another wire), 42001
   * past its 7200 s.
   */
  async verify(accessToken: string | undefined, wire: Wire): Promise<Caller> {
    if (accessToken === undefined || accessToken === '') throw new ApiError('missingToken');
    if (!TOKEN_PATTERN.test(accessToken)) throw new ApiError('invalidToken', 'malformed token');
    const row = await this.#metadata.getToken(sha256Hex(accessToken));
    if (!row) throw new ApiError('invalidToken', 'unknown token');
    // Another wire's token answers exactly like an unknown one.
    if (row.wire !== wire) throw new ApiError('invalidToken', `token of the ${row.wire} wire`);
    if (row.expiresAt <= this.#now()) throw new ApiError('tokenExpired');
    return { orgId: row.orgId, principal: row.principal, wire: row.wire };
  }

  /** Expired tokens are kept a day so that callers get 42001 (refetch) rather than 40014. */
  async purgeExpired(): Promise<number> {
    return this.#metadata.deleteExpiredTokens(this.#now() - 24 * 3600 * 1000);
  }
}
