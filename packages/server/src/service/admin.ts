// Operator actions (CLI, first start, later the admin console): organizations, apps, what they
// store. Secrets are shown once, here, and stored only as hashes.

import { WIRES, isWire, type Wire } from '@oapi-media/core';
import type { BlobStore } from '../stores/blobs/interface.ts';
import { ConflictError, type App, type MediaRow, type MetadataStore, type Org, type OrgUsage } from '../stores/metadata/interface.ts';
import { APP_CREDENTIALS, isInlineBlobKey, newCorpId, newId, sha256Hex, TOKEN_PATTERN } from './ids.ts';
import { appPrincipal } from './tokens.ts';
import { DEFAULT_MAX_CHUNKED_BYTES } from './upload-sessions.ts';

export interface AppCredentials {
  org: string;
  app: string;
  /** The wire the credentials work on: WeCom's corpid/corpsecret and Feishu's app_id/app_secret are appkey/appsecret here. */
  wire: Wire;
  appkey: string;
  appsecret: string;
}

/** What each wire calls an app's key and secret, for what operators read. */
export const CREDENTIAL_NAMES: Readonly<Record<Wire, readonly [key: string, secret: string]>> = Object.freeze({
  dingtalk: ['appkey', 'appsecret'],
  wecom: ['corpid', 'corpsecret'],
  feishu: ['app_id', 'app_secret'],
});

export class AdminError extends Error {
  override name = 'AdminError';
}

/** An organization as operators see it: its names, what it stores and its limits. */
export interface OrgSummary extends OrgUsage {
  org: string;
  corpid: string;
  /** null: unlimited. */
  quotaBytes: number | null;
  /** null: the server default (OAPI_MEDIA_RATE_LIMIT). */
  rateLimitPerSecond: number | null;
  /** The cap of one chunked or tus file (api.md "Large files"): the org's own or DEFAULT_MAX_CHUNKED_BYTES. */
  maxChunkedBytes: number;
}

/** A stored media as operators see it. */
export interface MediaSummary {
  media_id: string;
  type: string;
  format: string;
  size: number;
  sha256: string;
  file_name: string;
  created_at: number;
  /** The wire it was uploaded on (its id is that wire's). */
  wire: Wire;
  /** Epoch ms after which it answers as unknown and is swept; null = permanent. */
  expires_at: number | null;
}

/** An app as operators see it: never its secret (only its hash is stored). */
export interface AppSummary {
  org: string;
  app: string;
  wire: Wire;
  appkey: string;
  /** Epoch ms. */
  created_at: number;
}

/** What rotate-secret, app delete and token revoke did to an app. */
export interface AppChange {
  org: string;
  app: string;
  appkey: string;
  /** Tokens of the app that stopped working at once (their rows deleted). */
  revokedTokens: number;
}

/** `app rotate-secret`: the new secret, shown once. */
export interface RotatedSecret extends AppChange {
  /** The wire the app's credentials work on (the secret is in that wire's format). */
  wire: Wire;
  appsecret: string;
}

/** `token revoke --token`: whose token it was. */
export interface RevokedToken {
  org: string;
  /** The app it was issued to, or null for a suite's token. */
  app: string | null;
  /** The suite it was issued to (its suiteKey), or null for an app's token. */
  suite: string | null;
  revokedTokens: 1;
}

/** `org delete`: what went with the organization. */
export interface DeletedOrgSummary {
  org: string;
  corpid: string;
  media: number;
  apps: number;
  tokens: number;
  suiteAuthorizations: number;
}

/** Rows asked of the store per page when listing media. */
const MEDIA_PAGE_ROWS = 500;

export interface OrgLimits {
  quotaBytes?: number | null;
  rateLimitPerSecond?: number | null;
  /** null: back to DEFAULT_MAX_CHUNKED_BYTES. */
  maxChunkedBytes?: number | null;
}

/** An operator's limit: a whole number >= `min`, or `none` (null: unlimited / server default). */
export function parseLimit(what: string, text: string, min: number): number | null {
  if (text === 'none') return null;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new AdminError(`invalid ${what} ${JSON.stringify(text)}: a whole number >= ${min}, or none`);
  return n;
}

const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u;

export class AdminService {
  readonly #metadata: MetadataStore;
  readonly #now: () => number;
  /** Undefined for commands that never touch bytes (the blob store is then not opened). */
  readonly #blobs: BlobStore | undefined;

  constructor(metadata: MetadataStore, now: () => number, blobs?: BlobStore) {
    this.#metadata = metadata;
    this.#now = now;
    this.#blobs = blobs;
  }

  async orgSummary(name: string): Promise<OrgSummary> {
    return this.#summaryOf(await this.requireOrg(name));
  }

  /** Every organization, oldest first. */
  async listOrgSummaries(): Promise<OrgSummary[]> {
    return Promise.all((await this.#metadata.listOrgs()).map((org) => this.#summaryOf(org)));
  }

  async #summaryOf(org: Org): Promise<OrgSummary> {
    const [usage, maxChunkedBytes] = await Promise.all([this.#metadata.usage(org.id), this.#metadata.getMaxChunkedBytes(org.id)]);
    return {
      org: org.name, corpid: org.corpId, ...usage, quotaBytes: org.quotaBytes, rateLimitPerSecond: org.rateLimitPerSecond,
      maxChunkedBytes: maxChunkedBytes ?? DEFAULT_MAX_CHUNKED_BYTES,
    };
  }

  /** Up to `limit` media of an organization, in the store's listing order (newest first). */
  async listMedia(orgName: string, limit: number): Promise<MediaSummary[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new AdminError(`invalid limit ${limit}: a whole number >= 1`);
    const org = await this.requireOrg(orgName);
    const items: MediaRow[] = [];
    let after: string | undefined;
    do {
      const page = await this.#metadata.listMedia(org.id, { limit: Math.min(MEDIA_PAGE_ROWS, limit - items.length), after });
      items.push(...page.items);
      after = page.next ?? undefined;
    } while (after !== undefined && items.length < limit);
    return items.map((m) => ({
      media_id: m.mediaId, type: m.type, format: m.format, size: m.size, sha256: m.sha256, file_name: m.fileName, created_at: m.createdAt,
      wire: m.wire, expires_at: m.expiresAt,
    }));
  }

  /** Deletes a media: the row first (it disappears at once), then its bytes; AdminError when there is none. */
  async deleteMedia(mediaId: string): Promise<MediaRow> {
    if (!this.#blobs) throw new Error('admin: deleting media needs the blob store (openOperatorServices withBlobs)');
    const row = await this.#metadata.deleteMedia(mediaId); // bytes kept with the row go with it
    if (!row) throw new AdminError(`no media ${mediaId}`);
    if (!isInlineBlobKey(row.blobKey)) await this.#blobs.delete(row.blobKey);
    return row;
  }

  async createOrg(name: string): Promise<Org> {
    if (!NAME_PATTERN.test(name)) throw new AdminError(`invalid organization name ${JSON.stringify(name)}: 1-64 letters, digits, space . _ -`);
    if (await this.#metadata.getOrgByName(name)) throw new AdminError(`organization ${name} already exists`);
    const org: Org = { id: newId(), name, corpId: newCorpId(), createdAt: this.#now(), quotaBytes: null, rateLimitPerSecond: null };
    await this.#metadata.createOrg(org);
    return org;
  }

  async requireOrg(name: string): Promise<Org> {
    const org = await this.#metadata.getOrgByName(name);
    if (!org) throw new AdminError(`no organization named ${name} (create it with: oapi-media org create ${name})`);
    return org;
  }

  /**
   * Sets an org's storage quota, per-app request rate and/or chunked-file cap (null = unlimited /
   * server default / DEFAULT_MAX_CHUNKED_BYTES); a limit left undefined is kept. Returns the org as it now is.
   */
  async setOrgLimits(orgName: string, { maxChunkedBytes, ...limits }: OrgLimits): Promise<Org> {
    const org = await this.requireOrg(orgName);
    await this.#metadata.updateOrgLimits(org.id, limits);
    if (maxChunkedBytes !== undefined) await this.#metadata.setMaxChunkedBytes(org.id, maxChunkedBytes);
    return (await this.#metadata.getOrgById(org.id))!;
  }

  /** A new app; `given` credentials instead of random ones are for the emulator's well-known apps and fixtures. */
  async createApp(orgName: string, appName: string, wire: string = 'dingtalk', given?: { appkey: string; appsecret: string }): Promise<AppCredentials> {
    if (!NAME_PATTERN.test(appName)) throw new AdminError(`invalid app name ${JSON.stringify(appName)}`);
    if (!isWire(wire)) throw new AdminError(`invalid wire ${JSON.stringify(wire)}: one of ${WIRES.join(', ')}`);
    const org = await this.requireOrg(orgName);
    // Operators name apps in rotate-secret, app delete and token revoke: a name is one app per org.
    if ((await this.#metadata.listApps(org.id)).some((app) => app.name === appName)) {
      throw new AdminError(`organization ${org.name} already has an app named ${appName} (see: oapi-media app list --org ${org.name})`);
    }
    const appkey = given?.appkey ?? APP_CREDENTIALS[wire].key();
    const appsecret = given?.appsecret ?? APP_CREDENTIALS[wire].secret();
    if (given && (await this.#metadata.getAppByKey(appkey))) throw new AdminError(`an app with appkey ${appkey} already exists`);
    await this.#metadata.createApp({
      id: newId(), orgId: org.id, name: appName, appKey: appkey, secretHash: sha256Hex(appsecret), createdAt: this.#now(), wire,
    });
    return { org: org.name, app: appName, wire, appkey, appsecret };
  }

  /** The apps of an organization, oldest first; never their secrets. */
  async listApps(orgName: string): Promise<AppSummary[]> {
    const org = await this.requireOrg(orgName);
    return (await this.#metadata.listApps(org.id)).map((app) => ({ org: org.name, app: app.name, wire: app.wire, appkey: app.appKey, created_at: app.createdAt }));
  }

  /**
   * The app named (or whose appkey is) `appName` in the organization. Apps made before names were
   * unique per org may share one: the appkey then tells them apart.
   */
  async requireApp(orgName: string, appName: string): Promise<{ org: Org; app: App }> {
    const org = await this.requireOrg(orgName);
    const apps = await this.#metadata.listApps(org.id);
    const byKey = apps.find((app) => app.appKey === appName);
    if (byKey) return { org, app: byKey };
    const named = apps.filter((app) => app.name === appName);
    if (named.length > 1) {
      throw new AdminError(`${named.length} apps are named ${appName} in organization ${org.name}: pass its appkey as --app (${named.map((a) => a.appKey).join(', ')})`);
    }
    if (named.length === 0) {
      throw new AdminError(`no app named ${appName} in organization ${org.name} (list them with: oapi-media app list --org ${org.name})`);
    }
    return { org, app: named[0]! };
  }

  /**
   * A new appsecret for the app, shown once: the old one stops working at once, and every token
   * issued with it is revoked (deleted, so it answers as an unknown token).
   */
  async rotateSecret(orgName: string, appName: string): Promise<RotatedSecret> {
    const { org, app } = await this.requireApp(orgName, appName);
    const appsecret = APP_CREDENTIALS[app.wire].secret();
    // The secret first: from here no /gettoken with the old one succeeds; then its tokens go.
    if (!(await this.#metadata.updateAppSecret(app.id, sha256Hex(appsecret)))) throw new AdminError(`app ${app.name} was deleted meanwhile`);
    const { revokedTokens } = await this.#revokeTokensOf(org, app);
    return { org: org.name, app: app.name, wire: app.wire, appkey: app.appKey, appsecret, revokedTokens }; // --json's key order
  }

  /** Deletes an app: it gets no more tokens and its tokens stop working; its media stay the org's. */
  async deleteApp(orgName: string, appName: string): Promise<AppChange> {
    const { org, app } = await this.requireApp(orgName, appName);
    await this.#metadata.deleteApp(app.id);
    return this.#revokeTokensOf(org, app);
  }

  /** Revokes every token of an app; the app may get a new one with its appsecret. */
  async revokeAppTokens(orgName: string, appName: string): Promise<AppChange> {
    const { org, app } = await this.requireApp(orgName, appName);
    return this.#revokeTokensOf(org, app);
  }

  /** Deletes every token of the app (they answer as unknown tokens from now on): what changed. */
  async #revokeTokensOf(org: Org, app: App): Promise<AppChange> {
    const revokedTokens = await this.#metadata.deleteTokens(appPrincipal(app.id), org.id);
    return { org: org.name, app: app.name, appkey: app.appKey, revokedTokens };
  }

  /** Revokes one access_token, found by its hash (tokens are stored only hashed). */
  async revokeToken(accessToken: string): Promise<RevokedToken> {
    if (!TOKEN_PATTERN.test(accessToken)) throw new AdminError('not an access_token: 43 characters of A-Z a-z 0-9 _ - (as /gettoken answers)');
    const row = await this.#metadata.deleteToken(sha256Hex(accessToken));
    if (!row) throw new AdminError('no such token: never issued here, already revoked, or expired and purged');
    const org = await this.#metadata.getOrgById(row.orgId);
    // A principal is `app:<id>` or `suite:<id>` (appPrincipal, suitePrincipal).
    const colon = row.principal.indexOf(':');
    const [kind, id] = [row.principal.slice(0, colon), row.principal.slice(colon + 1)];
    const app = kind === 'app' ? await this.#metadata.getAppById(id) : null;
    const suite = kind === 'suite' ? (await this.#metadata.listSuites()).find((s) => s.id === id) ?? null : null;
    return { org: org?.name ?? row.orgId, app: app?.name ?? (kind === 'app' ? id : null), suite: suite?.suiteKey ?? (kind === 'suite' ? id : null), revokedTokens: 1 };
  }

  /**
   * Deletes an organization. Refused while it has apps or media unless `force`: then its media
   * (rows with any bytes kept with them, then their blobs), apps, tokens and suite authorizations go too.
   */
  async deleteOrg(orgName: string, force: boolean): Promise<DeletedOrgSummary> {
    const org = await this.requireOrg(orgName);
    const apps = (await this.#metadata.listApps(org.id)).length;
    const { mediaCount } = await this.#metadata.usage(org.id);
    if (!force && (apps > 0 || mediaCount > 0)) {
      throw new AdminError(
        `organization ${org.name} has ${apps} app(s) and ${mediaCount} media: pass --force to delete them with it (oapi-media org delete ${org.name} --force)`,
      );
    }
    if (!this.#blobs) throw new Error('admin: deleting an organization needs the blob store (openOperatorServices withBlobs)');
    const deleted = await this.#metadata.deleteOrg(org.id);
    if (!deleted) throw new AdminError(`organization ${org.name} was deleted meanwhile`);
    // Rows first, as deleteMedia: a blob left by a failure here is an orphan that the sweep at
    // the next server start removes; a row without its blob would answer 40007 forever.
    const failed: string[] = [];
    for (const blobKey of deleted.blobKeys) {
      if (isInlineBlobKey(blobKey)) continue; // its bytes went with the row
      await this.#blobs.delete(blobKey).catch(() => failed.push(blobKey));
    }
    if (failed.length > 0) {
      throw new AdminError(`organization ${org.name} deleted, but ${failed.length} blob(s) could not be removed now (the blob store failed): the orphan sweep of the next server start removes them`);
    }
    return {
      org: org.name, corpid: org.corpId, media: deleted.blobKeys.length, apps: deleted.apps, tokens: deleted.tokens, suiteAuthorizations: deleted.suiteAuthorizations,
    };
  }

  /** On a first start with no apps: org `default` with app `default`; null when apps exist. */
  async bootstrapDefault(): Promise<AppCredentials | null> {
    if ((await this.#metadata.countApps()) > 0) return null;
    if (!(await this.#metadata.getOrgByName('default'))) {
      try {
        await this.createOrg('default');
      } catch (error) {
        // Nodes sharing a database start at once (issue 7): the one whose org insert wins creates
        // the app and shows its credentials; the others start without a first-start banner.
        if (error instanceof ConflictError || error instanceof AdminError) return null;
        throw error;
      }
    }
    try {
      return await this.createApp('default', 'default');
    } catch (error) {
      // Another node found the org made and got to its app first (app names are unique per org).
      if (error instanceof ConflictError || error instanceof AdminError) return null;
      throw error;
    }
  }
}
