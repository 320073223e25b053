// Operator actions (CLI and first start): organizations and apps. Secrets are shown once, here,
// and stored only as hashes.

import type { MetadataStore, Org } from '../stores/metadata/interface.ts';
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
    if (!(await this.#metadata.getOrgByName('default'))) await this.createOrg('default');
    return this.createApp('default', 'default');
  }
}
