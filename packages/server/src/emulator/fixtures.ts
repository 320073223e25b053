// `--init FIXTURES.json`: organizations, apps and media an emulator starts with (after the
// well-known ones). Media are uploaded through the emulator's own API, so they pass the same checks
// as any upload and get ids as any upload does (the same ids run after run under a seed).

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isWire, type Wire } from '@oapi-media/core';
import type { FastifyInstance } from 'fastify';
import type { AdminService } from '../service/admin.ts';
import { WELL_KNOWN_APPS } from './well-known.ts';

export interface FixtureApp {
  name: string;
  /** dingtalk (default), wecom or feishu. */
  wire?: Wire;
  /** Its appkey / corpid / app_id and secret; random ones when absent. */
  key?: string;
  secret?: string;
}

export interface FixtureMedia {
  /** The app (by name, or key) that uploads it; the organization's first app when absent. */
  app?: string;
  /** DingTalk and WeCom: image, voice, video or file; Feishu: image, or file with fileType. */
  type: string;
  /** Feishu's file_type (opus, mp4, pdf, doc, xls, ppt, stream) for a file. */
  fileType?: string;
  fileName: string;
  /** The bytes: a file (relative to the fixtures file) or base64. */
  path?: string;
  base64?: string;
}

export interface FixtureOrg {
  name: string;
  quotaBytes?: number | null;
  rateLimitPerSecond?: number | null;
  apps?: FixtureApp[];
  media?: FixtureMedia[];
}

export interface EmulatorFixtures {
  organizations: FixtureOrg[];
}

export interface SeededMedia {
  org: string;
  app: string;
  wire: Wire;
  fileName: string;
  mediaId: string;
}

export class FixtureError extends Error {
  override name = 'FixtureError';
}

/** Reads a fixtures file; relative media paths are then read from its folder. */
export async function readFixtures(path: string): Promise<{ fixtures: EmulatorFixtures; baseDir: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FixtureError(`cannot read fixtures ${path}: ${(error as Error).message}`);
  }
  try {
    return { fixtures: JSON.parse(text) as EmulatorFixtures, baseDir: dirname(resolve(path)) };
  } catch (error) {
    throw new FixtureError(`fixtures ${path} are not JSON: ${(error as Error).message}`);
  }
}

function multipartBody(fields: [string, string][], file: { field: string; fileName: string; bytes: Buffer }): { body: Buffer; contentType: string } {
  const boundary = `----oapi-media-fixture-${Date.now().toString(16)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of fields) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  const quoted = file.fileName.replace(/"/g, '%22');
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
  parts.push(file.bytes, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function tokenOf(app: FastifyInstance, wire: Wire, key: string, secret: string): Promise<string> {
  const answer = wire === 'feishu'
    ? await app.inject({ method: 'POST', url: '/open-apis/auth/v3/tenant_access_token/internal', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ app_id: key, app_secret: secret }) })
    : await app.inject({ method: 'GET', url: wire === 'wecom' ? '/cgi-bin/gettoken' : '/gettoken', query: wire === 'wecom' ? { corpid: key, corpsecret: secret } : { appkey: key, appsecret: secret } });
  const body = answer.json() as Record<string, unknown>;
  const token = wire === 'feishu' ? body.tenant_access_token : body.access_token;
  if (typeof token !== 'string') throw new FixtureError(`fixtures: no token for ${key}: ${answer.body}`);
  return token;
}

/** Uploads one fixture media through the wire's own upload call; its id, or FixtureError with the wire's answer. */
async function upload(app: FastifyInstance, wire: Wire, token: string, media: FixtureMedia, bytes: Buffer): Promise<string> {
  let url: string;
  let fields: [string, string][] = [];
  let field = 'media';
  let headers: Record<string, string> = {};
  if (wire === 'feishu') {
    headers = { authorization: `Bearer ${token}` };
    if (media.type === 'image') {
      url = '/open-apis/im/v1/images';
      fields = [['image_type', 'message']];
      field = 'image';
    } else {
      url = '/open-apis/im/v1/files';
      fields = [['file_type', media.fileType ?? 'stream'], ['file_name', media.fileName]];
      field = 'file';
    }
  } else {
    url = `${wire === 'wecom' ? '/cgi-bin/media/upload' : '/media/upload'}?access_token=${encodeURIComponent(token)}&type=${encodeURIComponent(media.type)}`;
  }
  const { body, contentType } = multipartBody(fields, { field, fileName: media.fileName, bytes });
  const answer = await app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': contentType }, payload: body });
  const json = answer.json() as Record<string, unknown>;
  const data = json.data as Record<string, unknown> | undefined;
  const id = json.media_id ?? data?.image_key ?? data?.file_key;
  if (typeof id !== 'string') throw new FixtureError(`fixtures: ${media.fileName} was refused: ${answer.body}`);
  return id;
}

/** Creates the fixtures' organizations, apps and media; the media's ids. */
export async function seedFixtures(app: FastifyInstance, admin: AdminService, fixtures: EmulatorFixtures, baseDir: string): Promise<SeededMedia[]> {
  if (!Array.isArray(fixtures?.organizations)) throw new FixtureError('fixtures: {"organizations": [...]} expected');
  const seeded: SeededMedia[] = [];
  for (const org of fixtures.organizations) {
    if (typeof org.name !== 'string') throw new FixtureError('fixtures: every organization has a name');
    if (!WELL_KNOWN_APPS.some((known) => known.org === org.name)) await admin.createOrg(org.name);
    if (org.quotaBytes !== undefined || org.rateLimitPerSecond !== undefined) {
      await admin.setOrgLimits(org.name, {
        ...(org.quotaBytes === undefined ? {} : { quotaBytes: org.quotaBytes }),
        ...(org.rateLimitPerSecond === undefined ? {} : { rateLimitPerSecond: org.rateLimitPerSecond }),
      });
    }
    const apps: { name: string; wire: Wire; key: string; secret: string }[] = WELL_KNOWN_APPS
      .filter((known) => known.org === org.name).map((known) => ({ name: known.app, wire: known.wire, key: known.key, secret: known.secret }));
    for (const fixture of org.apps ?? []) {
      const wire = fixture.wire ?? 'dingtalk';
      if (!isWire(wire)) throw new FixtureError(`fixtures: app ${fixture.name} has an unknown wire ${JSON.stringify(wire)}`);
      const given = fixture.key !== undefined || fixture.secret !== undefined
        ? { appkey: fixture.key ?? `${wire === 'wecom' ? 'ww' : wire === 'feishu' ? 'cli_' : 'ding'}${fixture.name}`, appsecret: fixture.secret ?? `${fixture.name}-secret` }
        : undefined;
      const created = await admin.createApp(org.name, fixture.name, wire, given);
      apps.unshift({ name: created.app, wire, key: created.appkey, secret: created.appsecret });
    }
    const tokens = new Map<string, string>();
    for (const media of org.media ?? []) {
      const uploader = media.app === undefined ? apps[0] : apps.find((a) => a.name === media.app || a.key === media.app);
      if (!uploader) {
        throw new FixtureError(media.app === undefined
          ? `fixtures: organization ${org.name} has no app to upload ${media.fileName}: give it one under "apps"`
          : `fixtures: organization ${org.name} has no app ${JSON.stringify(media.app)} for ${media.fileName}`);
      }
      let bytes: Buffer;
      if (media.base64 !== undefined) bytes = Buffer.from(media.base64, 'base64');
      else if (media.path !== undefined) bytes = await readFile(resolve(baseDir, media.path)).catch((error: Error) => { throw new FixtureError(`fixtures: cannot read ${media.path}: ${error.message}`); });
      else throw new FixtureError(`fixtures: media ${media.fileName} needs path or base64`);
      let token = tokens.get(uploader.key);
      if (token === undefined) tokens.set(uploader.key, token = await tokenOf(app, uploader.wire, uploader.key, uploader.secret));
      const mediaId = await upload(app, uploader.wire, token, media, bytes);
      seeded.push({ org: org.name, app: uploader.name, wire: uploader.wire, fileName: media.fileName, mediaId });
    }
  }
  return seeded;
}
