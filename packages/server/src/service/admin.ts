// Operator actions (CLI and first start): organizations and apps. Secrets are shown once, here,
// and stored only as hashes.

import { ConflictError, type MetadataStore, type Org } from '../stores/metadata/interface.ts';
import { newAppKey, newAppSecret, newCorpId, newId, sha256Hex } from './ids.ts';

export interface AppCredentials {
  org: string;
  app: string;
  appkey: string;
  appsecret: string;
}

export class AdminError extends Error {
  override name = 'AdminError';
}

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

  constructor(metadata: MetadataStore, now: () => number) {
    this.#metadata = metadata;
    this.#now = now;
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
