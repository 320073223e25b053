// Operator actions (CLI, first start, later the admin console): organizations, apps, what they
// store. Secrets are shown once, here, and stored only as hashes.

import type { BlobStore } from '../stores/blobs/interface.ts';
import { ConflictError, type MediaRow, type MetadataStore, type Org, type OrgUsage } from '../stores/metadata/interface.ts';
import { isInlineBlobKey, newAppKey, newAppSecret, newCorpId, newId, sha256Hex } from './ids.ts';

export interface AppCredentials {
  org: string;
  app: string;
  appkey: string;
  appsecret: string;
}

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
}

/** Rows asked of the store per page when listing media. */
const MEDIA_PAGE_ROWS = 500;

export interface OrgLimits {
  quotaBytes?: number | null;
  rateLimitPerSecond?: number | null;
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
    const usage = await this.#metadata.usage(org.id);
    return { org: org.name, corpid: org.corpId, ...usage, quotaBytes: org.quotaBytes, rateLimitPerSecond: org.rateLimitPerSecond };
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
   * Sets an org's storage quota and/or per-app request rate (null = unlimited / server default);
   * a limit left undefined is kept. Returns the org as it now is.
   */
  async setOrgLimits(orgName: string, limits: OrgLimits): Promise<Org> {
    const org = await this.requireOrg(orgName);
    await this.#metadata.updateOrgLimits(org.id, limits);
    return (await this.#metadata.getOrgById(org.id))!;
  }

  async createApp(orgName: string, appName: string): Promise<AppCredentials> {
    if (!NAME_PATTERN.test(appName)) throw new AdminError(`invalid app name ${JSON.stringify(appName)}`);
    const org = await this.requireOrg(orgName);
    const appkey = newAppKey();
    const appsecret = newAppSecret();
    await this.#metadata.createApp({
      id: newId(), orgId: org.id, name: appName, appKey: appkey, secretHash: sha256Hex(appsecret), createdAt: this.#now(),
    });
    return { org: org.name, app: appName, appkey, appsecret };
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
    return this.createApp('default', 'default');
  }
}
