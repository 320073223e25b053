// GET /__oapi/ids/:id — what an id is. Mixing id kinds (a WeCom media_id on DingTalk, an upload_id
// as a media_id, a token in media_id=) is the first confusion of platform users.

import type { Wire } from '@oapi-media/core';
import { sha256Hex, TOKEN_PATTERN } from '../service/ids.ts';
import type { MetadataStore } from '../stores/metadata/interface.ts';
import { shapeOf, WIRE_NAMES } from './hints.ts';

export interface IdDescription {
  id: string;
  /** media, access_token, upload_session, app, corpid — or unknown. */
  kind: 'media' | 'access_token' | 'upload_session' | 'app' | 'corpid' | 'unknown';
  wire: Wire | null;
  /** The organization it belongs to. */
  org: string | null;
  /** In plain words. */
  description: string;
  details: Record<string, unknown>;
}

/** The key (appkey, corpid, app_id, or suite key) of what a token or media was issued to ('app:<id>', 'suite:<id>'); null when it is gone. */
export async function keyOfPrincipal(principal: string, metadata: MetadataStore): Promise<string | null> {
  const [kind, id = ''] = principal.split(/:(.*)/s);
  if (kind === 'app') return (await metadata.getAppById(id))?.appKey ?? null;
  if (kind === 'suite') return (await metadata.listSuites()).find((suite) => suite.id === id)?.suiteKey ?? null;
  return null;
}

export async function describeId(id: string, metadata: MetadataStore, now: number): Promise<IdDescription> {
  const orgName = async (orgId: string) => (await metadata.getOrgById(orgId))?.name ?? orgId;
  const appName = async (principal: string) => (principal.startsWith('app:') ? await keyOfPrincipal(principal, metadata) : null) ?? principal;

  const media = await metadata.getMedia(id);
  if (media) {
    const expired = media.expiresAt !== null && media.expiresAt <= now;
    return {
      id, kind: 'media', wire: media.wire, org: await orgName(media.orgId),
      description: `a ${WIRE_NAMES[media.wire]} media_id: ${media.type} ${JSON.stringify(media.fileName)}, ${media.size} bytes${expired ? ', expired' : ''}`,
      details: {
        type: media.type, format: media.format, fileName: media.fileName, size: media.size, sha256: media.sha256,
        uploadedBy: await appName(media.uploadedBy), createdAt: media.createdAt, expiresAt: media.expiresAt, expired,
      },
    };
  }
  if (TOKEN_PATTERN.test(id)) {
    const token = await metadata.getToken(sha256Hex(id));
    if (token) {
      const expired = token.expiresAt <= now;
      return {
        id, kind: 'access_token', wire: token.wire, org: await orgName(token.orgId),
        description: `a ${WIRE_NAMES[token.wire]} access_token of ${await appName(token.principal)}${expired ? ', expired' : ''}: it works on ${WIRE_NAMES[token.wire]}'s calls only`,
        details: { app: await appName(token.principal), issuedAt: token.issuedAt, expiresAt: token.expiresAt, expired },
      };
    }
  }
  const session = await metadata.getUploadSession(id);
  if (session) {
    return {
      id, kind: 'upload_session', wire: session.wire, org: await orgName(session.orgId),
      description: `an upload session (${session.protocol === 'tus' ? 'tus upload' : 'DingTalk upload_id'}) of ${session.fileSize} bytes: not a media_id until it is committed`,
      details: { protocol: session.protocol, fileSize: session.fileSize, chunkCount: session.chunkCount, app: await appName(session.principal), createdAt: session.createdAt },
    };
  }
  const app = await metadata.getAppByKey(id);
  if (app) {
    return {
      id, kind: 'app', wire: app.wire, org: await orgName(app.orgId),
      description: `the key of the ${WIRE_NAMES[app.wire]} app ${app.name} (${app.wire === 'wecom' ? 'corpid' : app.wire === 'feishu' ? 'app_id' : 'appkey'}): get a token with it`,
      details: { app: app.name },
    };
  }
  const org = await metadata.getOrgByCorpId(id);
  if (org) return { id, kind: 'corpid', wire: 'dingtalk', org: org.name, description: `the corpid of organization ${org.name}`, details: {} };
  const shape = shapeOf(id);
  return {
    id, kind: 'unknown', wire: shape?.wire ?? null, org: null,
    description: shape
      ? `shaped like a ${shape.wire ? `${WIRE_NAMES[shape.wire]} ` : ''}${shape.kind}, but none is known here (never issued by this emulator, deleted, or forgotten by a reset)`
      : 'not an id this emulator knows, nor shaped like any platform id it speaks',
    details: {},
  };
}
