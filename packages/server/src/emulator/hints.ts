// X-Oapi-Hint (emulator mode): with every error answer, the probable mistake in plain words, for the
// mistakes platform users actually make. The answer itself stays exactly the wire's.

import { DINGTALK_MEDIA_LIMITS, EXTENSION_FORMATS, isMediaType, WECOM_MEDIA_LIMITS, type Wire } from '@oapi-media/core';
import type { FormPartSummary } from '../http/multipart-upload.ts';
import { CHUNKED_MEDIA_ID_PATTERN, MEDIA_IDS, sha256Hex, TOKEN_PATTERN, UPLOAD_SESSION_ID_PATTERN } from '../service/ids.ts';
import type { MetadataStore } from '../stores/metadata/interface.ts';
import { WELL_KNOWN_APPS } from './well-known.ts';

export interface HintFacts {
  method: string;
  path: string;
  wire: Wire | null;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  /** The product's error kind the request was answered with (request-log notes). */
  errorKind: string | undefined;
  form: readonly FormPartSummary[] | undefined;
  /** The emulator's clock now. */
  now: number;
}

export const WIRE_NAMES: Readonly<Record<Wire, string>> = { dingtalk: 'DingTalk', wecom: 'WeCom', feishu: 'Feishu' };
const DOWNLOAD_CALL: Readonly<Record<Wire, string>> = {
  dingtalk: 'GET /media/downloadFile?access_token=&media_id=',
  wecom: 'GET /cgi-bin/media/get?access_token=&media_id=',
  feishu: 'GET /open-apis/im/v1/images/:image_key or /open-apis/im/v1/files/:file_key',
};
const TOKEN_CALL: Readonly<Record<Wire, string>> = {
  dingtalk: 'GET /gettoken?appkey=&appsecret=',
  wecom: 'GET /cgi-bin/gettoken?corpid=&corpsecret=',
  feishu: 'POST /open-apis/auth/v3/tenant_access_token/internal',
};

/** The media id a download asked for: DingTalk's and WeCom's media_id, Feishu's key in the path. */
export function requestedMediaId(path: string, query: Record<string, string>): string | undefined {
  const feishu = /\/im\/v1\/(?:images|files)\/([^/?]+)$/.exec(path);
  return feishu ? decodeURIComponent(feishu[1]!) : query.media_id;
}

/** The access token the request carried (query, or Feishu's Authorization: Bearer). */
export function requestToken(query: Record<string, string>, authorization: string | undefined): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return query.access_token ?? bearer?.[1];
}

/** What an id looks like, from its shape alone: which wire's media id, or another kind of id. */
export function shapeOf(id: string): { wire: Wire; kind: string } | { wire: null; kind: string } | undefined {
  for (const wire of Object.keys(MEDIA_IDS) as Wire[]) if (MEDIA_IDS[wire].pattern.test(id)) return { wire, kind: 'media_id' };
  if (CHUNKED_MEDIA_ID_PATTERN.test(id)) return { wire: 'dingtalk', kind: 'large-file media_id (#…, /file/download)' };
  if (TOKEN_PATTERN.test(id)) return { wire: null, kind: 'access_token' };
  if (UPLOAD_SESSION_ID_PATTERN.test(id)) return { wire: 'dingtalk', kind: 'upload_id (chunked upload or tus)' };
  return undefined;
}

const looksLikePath = (value: string): boolean => /^(\/|\.{1,2}\/|~\/|[A-Za-z]:\\|file:)/.test(value) || /^[^\s]{1,200}\.[A-Za-z0-9]{2,5}$/.test(value);

/** The hint for an error answer, or undefined when no probable mistake is seen. */
export async function hintFor(facts: HintFacts, metadata: MetadataStore): Promise<string | undefined> {
  const { errorKind, form } = facts;
  const contentType = facts.contentType ?? '';
  const uploading = facts.method === 'POST' && /upload|\/im\/v1\/(images|files)$/.test(facts.path);

  if (uploading && /^application\/json/i.test(contentType)) {
    return 'the body is JSON: uploads are multipart/form-data with the file in a file part (curl -F "media=@photo.jpg")';
  }
  if (/^multipart\//i.test(contentType) && !/boundary=/i.test(contentType)) {
    return 'Content-Type multipart/form-data has no boundary=: let your HTTP library write this header (do not set it by hand)';
  }
  if (uploading && contentType !== '' && !/^multipart\//i.test(contentType)) {
    return `the body is ${contentType.split(';')[0]}: uploads are multipart/form-data with the file in a file part`;
  }
  const filePart = form?.find((part) => part.media);
  if (form && filePart && filePart.value !== undefined && looksLikePath(filePart.value)) {
    return `the ${filePart.field} part is a text field holding ${JSON.stringify(filePart.value.slice(0, 80))}, not a file: send the file's bytes as a file part (curl -F "${filePart.field}=@path", note the @)`;
  }
  if (form && !filePart && form.some((part) => part.fileName !== undefined)) {
    const names = form.filter((part) => part.fileName !== undefined).map((part) => part.field);
    const expected = facts.wire === 'feishu' ? (facts.path.endsWith('/images') ? 'image' : 'file') : 'media';
    return `the file part is named ${names.map((n) => JSON.stringify(n)).join(', ')}: this call reads the part named "${expected}"`;
  }
  const type = facts.query.type ?? form?.find((part) => part.field === 'type')?.value;
  const limits = facts.wire === 'wecom' ? WECOM_MEDIA_LIMITS : facts.wire === 'dingtalk' ? DINGTALK_MEDIA_LIMITS : undefined;
  if (filePart && filePart.value === undefined && errorKind === 'formatNotAllowed' && limits && type !== undefined && isMediaType(type)) {
    const formats = limits[type].formats;
    const extension = /\.([A-Za-z0-9]+)$/.exec(filePart.fileName ?? '')?.[1]?.toLowerCase();
    const named = extension === undefined ? undefined : EXTENSION_FORMATS[extension];
    if (extension !== undefined && (named === undefined || !formats.includes(named))) {
      return `extension .${extension} is not a format of type ${type} (${type} takes ${formats.join(', ')})`;
    }
    if (extension === undefined) {
      const what = filePart.fileName === undefined || filePart.fileName === '' ? 'has no filename' : `is named ${JSON.stringify(filePart.fileName)}, without an extension,`;
      return `the bytes are not a format of type ${type} (${formats.join(', ')}), and the ${filePart.field} part ${what} to go by: check type, and send filename="name.ext"`;
    }
    return `the bytes are not a ${named} file, as the name ${JSON.stringify(filePart.fileName)} says: the content and the extension must agree`;
  }
  if (facts.wire === 'feishu' && facts.path.endsWith('/im/v1/files') && errorKind !== undefined && errorKind !== 'invalidToken' && errorKind !== 'missingToken') {
    const name = form?.find((part) => part.field === 'file_name')?.value;
    if (name === undefined || name === '') return 'no file_name: Feishu\'s file upload needs the field file_name, with its extension';
  }
  if (errorKind === 'unknownMediaType' || (errorKind === 'missingParameter' && uploading)) {
    const typeField = form?.findIndex((part) => part.field === 'type') ?? -1;
    const fileField = form?.findIndex((part) => part.media) ?? -1;
    if (facts.query.type === undefined && typeField === -1) {
      return 'no type: pass it in the query (?type=image); some clients drop form fields that come after the file part';
    }
    if (typeField > fileField && fileField !== -1) return 'type came after the file part: some clients drop such fields; put type in the query (?type=image)';
  }
  if (errorKind === 'missingMedia' && form && form.length === 0) return 'the form has no parts: the file part never arrived (an empty body, or a stream that ended early)';

  const token = requestToken(facts.query, facts.authorization);
  if (errorKind === 'invalidToken' && token !== undefined) {
    const shape = shapeOf(token);
    if (shape && shape.kind !== 'access_token') return `access_token holds ${shape.wire ? `a ${WIRE_NAMES[shape.wire]} ` : 'an '}${shape.kind}, not a token: get one from ${TOKEN_CALL[facts.wire ?? 'dingtalk']}`;
    const row = TOKEN_PATTERN.test(token) ? await metadata.getToken(sha256Hex(token)) : null;
    if (row && facts.wire && row.wire !== facts.wire) {
      return `this access_token was issued on the ${WIRE_NAMES[row.wire]} wire; ${WIRE_NAMES[facts.wire]} calls need a token of ${TOKEN_CALL[facts.wire]}`;
    }
    if (!row) return 'no such access_token here: tokens of the real platform or of another emulator run do not work (reset and restarts forget every token)';
  }
  if (errorKind === 'tokenExpired') return 'the access_token is past its 7200 s (the emulator\'s clock may have been advanced): get a new one';
  if (errorKind === 'wrongCredentials') {
    const key = facts.query.appkey ?? facts.query.corpid;
    const known = WELL_KNOWN_APPS.find((app) => app.key === key);
    if (known && facts.wire && known.wire !== facts.wire) return `${known.key} is the emulator's ${WIRE_NAMES[known.wire]} app: on ${WIRE_NAMES[facts.wire]} use its own well-known app`;
    if (known) return `wrong secret for ${known.key}: the emulator's well-known secret for it is ${known.secret}`;
  }

  const mediaId = requestedMediaId(facts.path, facts.query);
  if (errorKind === 'unknownMedia' && mediaId !== undefined && facts.wire) {
    const shape = shapeOf(mediaId);
    if (shape && shape.kind !== 'media_id') return `media_id holds ${shape.wire ? `a ${WIRE_NAMES[shape.wire]} ` : 'an '}${shape.kind}, not a media_id`;
    if (shape?.wire && shape.wire !== facts.wire) return `this id is a ${WIRE_NAMES[shape.wire]} media_id: download it with ${DOWNLOAD_CALL[shape.wire]} and a ${WIRE_NAMES[shape.wire]} token`;
    const row = await metadata.getMedia(mediaId);
    const tokenRow = token !== undefined && TOKEN_PATTERN.test(token) ? await metadata.getToken(sha256Hex(token)) : null;
    if (row && tokenRow && row.orgId !== tokenRow.orgId) {
      const [owner, caller] = await Promise.all([metadata.getOrgById(row.orgId), metadata.getOrgById(tokenRow.orgId)]);
      return `this media belongs to organization ${owner?.name ?? row.orgId}; the token is of organization ${caller?.name ?? tokenRow.orgId} (an organization sees only its own media)`;
    }
    if (row && row.expiresAt !== null && row.expiresAt <= facts.now) return 'this media has expired (WeCom keeps temporary media 3 days; the emulator\'s clock may have been advanced)';
    if (!row && facts.wire === 'wecom') return 'no such media: WeCom\'s temporary media last 3 days (the emulator\'s clock may have been advanced), and ids of the real platform or of another emulator run are unknown here';
    if (!row && facts.wire === 'wecom') return 'no such media: WeCom\'s temporary media last 3 days (the emulator\'s clock may have been advanced), and ids of the real platform or another emulator run are unknown here';
  }
  return undefined;
}
