// The emulator's hooks on every API request (journal, faults, X-Oapi-Hint) and its control plane
// under /__oapi/, a prefix no platform has. Registered only in emulator mode: elsewhere /__oapi/
// answers as any unknown path.

import type { Socket } from 'node:net';
import type { Wire } from '@oapi-media/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppExtension } from '../app.ts';
import type { DialectContext } from '../dialects/dialect.ts';
import type { MountedDialect } from '../dialects/index.ts';
import { uploadFormSummary, watchUploadForm } from '../http/multipart-upload.ts';
import { param } from '../http/params.ts';
import { answeredErrcode, requestNotes } from '../http/request-log.ts';
import { sha256Hex, TOKEN_PATTERN } from '../service/ids.ts';
import type { EmulatorController, ResetScope } from './emulator.ts';
import { RESET_SCOPES } from './emulator.ts';
import { DEFAULT_STALL_MS, describeFault, FaultError, parseFaultHeader, parseFaultInput, type FaultAction } from './faults.ts';
import { hintFor, requestedMediaId, requestToken } from './hints.ts';
import { keyOfPrincipal } from './ids-lookup.ts';
import { journaledHeaders, maskSecret, type JournalEntry } from './journal.ts';
import { EMULATOR_CREDENTIALS } from './well-known.ts';

export const CONTROL_PREFIX = '/__oapi';
const JSON_TYPE = 'application/json; charset=utf-8';
/** Paths that are the node's, not an API's: neither journaled nor faulted. */
const NODE_PATHS = /^\/(healthz|readyz|metrics|openapi\.json|docs)(\/|$)/;
const CONTROL_BODY_MAX_BYTES = 64 * 1024;

/** What nginx, in front of DingTalk's and WeCom's APIs, answers for a body over its limit. */
const GATEWAY_413 = '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

interface Tracked {
  entry: JournalEntry | undefined;
  started: number;
  wire: Wire | null;
  /** The query's values, unmasked (for hints and the requested media_id). */
  query: Record<string, string>;
  /** A reset or close to apply instead of the answer (afterHandling). */
  instead?: FaultAction;
}

/** Header values are Latin-1: anything else (a Chinese file name in a hint) is written as \uXXXX. */
const headerSafe = (text: string): string => text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Every parameter of a query as the wires read one (param: the first value, strings only). */
const stringsOf = (source: unknown): Record<string, string> => {
  const names = source !== null && typeof source === 'object' ? Object.keys(source) : [];
  return Object.fromEntries(names.flatMap((name) => {
    const value = param(source, name);
    return value === undefined ? [] : [[name, value]];
  }));
};

/** The answer into the journal entry: `status` null when none reached the client (a fault after handling). */
function recordAnswer(known: Tracked, request: FastifyRequest, status: number | null): void {
  const { entry } = known;
  if (!entry) return;
  const noted = requestNotes(request).mediaId;
  entry.answer.status = status;
  entry.answer.errcode = answeredErrcode(request);
  entry.answer.mediaId = (typeof noted === 'string' ? noted : undefined) ?? requestedMediaId(entry.path, known.query) ?? null;
  const form = uploadFormSummary(request.raw);
  entry.form = form === undefined || (form.length === 0 && !/^multipart\//i.test(request.headers['content-type'] ?? '')) ? null : form.map((part) => ({ ...part }));
  entry.durationMs = Math.round((performance.now() - known.started) * 10) / 10;
}

function readJson(request: FastifyRequest): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.raw.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > CONTROL_BODY_MAX_BYTES) {
        reject(new FaultError(`a control-plane body is at most ${CONTROL_BODY_MAX_BYTES} bytes`));
        request.raw.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.raw.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new FaultError('the body is not JSON'));
      }
    });
    request.raw.on('error', reject);
  });
}

export function controlPlane(emulator: EmulatorController): AppExtension {
  return {
    tag: { name: 'Emulator', description: 'Emulator mode only (oapi-media emulate): reset, request journal, faults, clock and id lookup under /__oapi/ (docs/emulator.md)' },
    register(app, mounts, context) {
      registerHooks(app, mounts, context, emulator);
      registerRoutes(app, emulator);
    },
  };
}

function registerHooks(app: FastifyInstance, mounts: readonly MountedDialect[], context: DialectContext, emulator: EmulatorController): void {
  const under = (mount: MountedDialect) => `${mount.prefix}${mount.dialect.routesUnder ?? ''}`;
  const byPrefix = [...mounts].sort((a, b) => under(b).length - under(a).length);
  const mountOf = (path: string) => byPrefix.find((mount) => under(mount) === '' || path === under(mount) || path.startsWith(`${under(mount)}/`));
  const tracked = new WeakMap<FastifyRequest, Tracked>();

  /** The calling app's key: from the credentials in the query, or from its token. */
  const appOf = async (request: FastifyRequest, query: Record<string, string>): Promise<string | null> => {
    const key = query.appkey ?? query.corpid ?? query.suite_key;
    if (key !== undefined) return key;
    const token = requestToken(query, request.headers.authorization);
    if (token === undefined || !TOKEN_PATTERN.test(token)) return null;
    const { metadata } = emulator.services;
    const row = await metadata.getToken(sha256Hex(token));
    return row ? keyOfPrincipal(row.principal, metadata) : null;
  };

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`) || NODE_PATHS.test(path)) return;
    const query = stringsOf(request.query);
    const mount = mountOf(path);
    const wire = (mount?.dialect.name ?? null) as Wire | null;
    watchUploadForm(request.raw);
    const masked = Object.fromEntries(Object.entries(query).map(([name, value]) => [name, maskSecret(name, value)]));
    const entry = emulator.seeding ? undefined : emulator.journal.open({ at: emulator.now(), method: request.method, path, query: masked, headers: journaledHeaders(request.headers), wire, app: null });
    tracked.set(request, { entry, started: performance.now(), wire, query });
    if (emulator.seeding) return;
    const appKey = await appOf(request, query);
    if (entry) entry.app = appKey;

    const header = request.headers['x-oapi-fault'];
    let action: FaultAction | undefined;
    if (typeof header === 'string') {
      try {
        action = parseFaultHeader(header);
      } catch (error) {
        return reply.code(400).header('content-type', JSON_TYPE).send(JSON.stringify({ error: (error as Error).message }));
      }
    } else {
      const mediaType = query.type ?? (path.endsWith('/im/v1/images') ? 'image' : null);
      action = emulator.faults.fire({ path, method: request.method, app: appKey, mediaType });
    }
    if (!action) return;
    if (entry) entry.fault = describeFault(action);
    if (action.afterHandling) {
      tracked.get(request)!.instead = action;
      return;
    }
    return applyFault(action, request, reply, mount, context, emulator, entry);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const known = tracked.get(request);
    if (known?.instead) {
      // Handled, and now the answer is lost: nothing of it reaches the client.
      const socket = request.raw.socket;
      recordAnswer(known, request, null);
      known.entry = undefined; // its answer was never sent: onResponse leaves it so
      if (known.instead.kind === 'reset') socket.resetAndDestroy();
      else socket.destroy();
      return payload;
    }
    if (!known?.entry) return payload;
    const errcode = answeredErrcode(request);
    if (errcode === 0 && reply.statusCode < 400) return payload;
    const hint = await hintFor({
      method: request.method,
      path: known.entry.path,
      wire: known.wire,
      query: known.query,
      contentType: request.headers['content-type'],
      authorization: request.headers.authorization,
      errorKind: requestNotes(request).errorKind as string | undefined,
      form: uploadFormSummary(request.raw),
      now: emulator.now(),
    }, emulator.services.metadata).catch(() => undefined);
    if (hint !== undefined) {
      reply.header('x-oapi-hint', headerSafe(hint));
      known.entry.answer.hint = hint;
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const known = tracked.get(request);
    if (known) recordAnswer(known, request, reply.statusCode);
  });
}

async function applyFault(
  action: FaultAction, request: FastifyRequest, reply: FastifyReply, mount: MountedDialect | undefined,
  context: DialectContext, emulator: EmulatorController, entry: JournalEntry | undefined,
): Promise<FastifyReply | undefined> {
  const socket: Socket = request.raw.socket;
  const unanswered = () => {
    if (entry) entry.answer.status = null;
    reply.hijack();
  };
  switch (action.kind) {
    case 'delay':
      await emulator.waits.wait(action.delayMs ?? 0);
      if (action.errcode === undefined) return undefined; // then the request goes on
      break;
    case 'errcode':
      if (action.delayMs !== undefined) await emulator.waits.wait(action.delayMs);
      break;
    case 'reset':
      unanswered();
      socket.resetAndDestroy();
      return reply;
    case 'close':
      unanswered();
      socket.end();
      return reply;
    case 'stall':
      unanswered();
      await emulator.waits.wait(action.stallMs ?? DEFAULT_STALL_MS);
      if (!socket.destroyed) socket.resetAndDestroy();
      return reply;
    case 'empty':
      return reply.code(action.status ?? 200).header('content-type', JSON_TYPE).send('');
    case 'gateway413':
      return reply.code(action.status ?? 413).header('content-type', 'text/html').header('connection', 'close').send(GATEWAY_413);
  }
  if (!mount) return reply.code(action.status ?? 500).header('content-type', JSON_TYPE).send(JSON.stringify({ errcode: action.errcode, errmsg: 'error (injected)' }));
  return mount.dialect.answerCode(action.errcode!, action.status, request, reply, context);
}

function registerRoutes(app: FastifyInstance, emulator: EmulatorController): void {
  const tags = ['Emulator'];
  const security: never[] = [];
  const object = (description: string) => ({ description, type: 'object', additionalProperties: true });
  const send = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).header('content-type', JSON_TYPE).send(JSON.stringify(body));
  const refuse = (reply: FastifyReply, error: unknown) => {
    if (error instanceof FaultError || (error as Error).name === 'EmulatorError') return send(reply, 400, { error: (error as Error).message });
    throw error;
  };
  const errorAnswer = object('a control-plane request that cannot be done: {"error": "..."}');

  app.post(`${CONTROL_PREFIX}/reset`, {
    schema: {
      operationId: 'emulatorReset', tags, security, summary: 'Put state back: everything (the well-known credentials and fixtures), or one scope',
      querystring: { type: 'object', properties: { scope: { type: 'string', enum: [...RESET_SCOPES], description: 'all (default), media, tokens, journal, faults or clock; also accepted as {"scope"} in a JSON body' } } },
      response: { 200: object('{"reset": scope}'), 400: errorAnswer },
    },
  }, async (request, reply) => {
    let scope: string;
    try {
      const body = await readJson(request) as Record<string, unknown>;
      scope = stringsOf(request.query).scope ?? (typeof body.scope === 'string' ? body.scope : 'all');
    } catch (error) {
      return refuse(reply, error);
    }
    if (!(RESET_SCOPES as readonly string[]).includes(scope)) return send(reply, 400, { error: `scope must be one of ${RESET_SCOPES.join(', ')}` });
    let closeOld: (() => Promise<void>) | undefined;
    await emulator.reset(scope as ResetScope, (close) => { closeOld = close; });
    // The old state answers this request, then goes.
    if (closeOld) reply.raw.once('finish', () => void closeOld!().catch(() => {}));
    return send(reply, 200, { reset: scope });
  });

  app.get(`${CONTROL_PREFIX}/requests`, {
    schema: {
      operationId: 'emulatorRequests', tags, security, summary: 'The request journal, oldest first (secrets masked)',
      querystring: {
        type: 'object',
        properties: {
          path: { type: 'string', description: 'exact path, or a prefix ending in *' }, errcode: { type: 'integer' }, app: { type: 'string', description: 'appkey, corpid or app_id' },
          wire: { type: 'string', enum: ['dingtalk', 'wecom', 'feishu'] }, method: { type: 'string' }, limit: { type: 'integer', description: 'at most this many, the newest' },
        },
      },
      response: { 200: object('{"requests": [entry…], "limit": journal size} (docs/emulator.md "Journal")'), 400: errorAnswer },
    },
  }, async (request, reply) => {
    const query = stringsOf(request.query);
    const number = (name: string): number | undefined => {
      if (query[name] === undefined) return undefined;
      const n = Number(query[name]);
      if (!Number.isInteger(n) || n < 0) throw new FaultError(`${name} must be a whole number`);
      return n;
    };
    try {
      const requests = emulator.journal.list({
        ...(query.path === undefined ? {} : { path: query.path }),
        ...(query.app === undefined ? {} : { app: query.app }),
        ...(query.wire === undefined ? {} : { wire: query.wire }),
        ...(query.method === undefined ? {} : { method: query.method }),
        ...(number('errcode') === undefined ? {} : { errcode: number('errcode')! }),
        ...(number('limit') === undefined ? {} : { limit: number('limit')! }),
      });
      return send(reply, 200, { requests, limit: emulator.journal.limit });
    } catch (error) {
      return refuse(reply, error);
    }
  });
  app.delete(`${CONTROL_PREFIX}/requests`, {
    schema: { operationId: 'emulatorClearRequests', tags, security, summary: 'Empty the journal', response: { 200: object('{"cleared": n}') } },
  }, async (_request, reply) => send(reply, 200, { cleared: emulator.journal.clear() }));

  app.get(`${CONTROL_PREFIX}/faults`, {
    schema: { operationId: 'emulatorFaults', tags, security, summary: 'The fault rules, with how often each fired', response: { 200: object('{"faults": [rule…]}') } },
  }, async (_request, reply) => send(reply, 200, { faults: emulator.faults.list() }));
  app.post(`${CONTROL_PREFIX}/faults`, {
    schema: {
      operationId: 'emulatorAddFault', tags, security,
      summary: 'Add a fault rule: match path/method/app/mediaType; kind errcode (errcode, status), delay (delayMs), reset, close, empty, stall (stallMs), gateway413; times or probability',
      body: object('e.g. {"path":"/media/upload","errcode":45009,"times":1} or {"path":"/media/*","kind":"reset","probability":0.2}'),
      response: { 201: object('{"fault": rule}'), 400: errorAnswer },
    },
  }, async (request, reply) => {
    try {
      const rule = emulator.faults.add(parseFaultInput(await readJson(request)));
      return send(reply, 201, { fault: rule });
    } catch (error) {
      return refuse(reply, error);
    }
  });
  app.delete(`${CONTROL_PREFIX}/faults`, {
    schema: { operationId: 'emulatorClearFaults', tags, security, summary: 'Remove every fault rule', response: { 200: object('{"removed": n}') } },
  }, async (_request, reply) => send(reply, 200, { removed: emulator.faults.clear() }));
  app.delete(`${CONTROL_PREFIX}/faults/:id`, {
    schema: {
      operationId: 'emulatorRemoveFault', tags, security, summary: 'Remove one fault rule',
      params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
      response: { 200: object('{"removed": 1}'), 404: errorAnswer },
    },
  }, async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    return emulator.faults.remove(id) ? send(reply, 200, { removed: 1 }) : send(reply, 404, { error: `no fault ${id}` });
  });

  app.get(`${CONTROL_PREFIX}/clock`, {
    schema: { operationId: 'emulatorClock', tags, security, summary: 'The emulator\'s time', response: { 200: object('{"now": epoch ms, "offsetMs": n}') } },
  }, async (_request, reply) => send(reply, 200, { now: emulator.now(), offsetMs: emulator.offsetMs }));
  app.post(`${CONTROL_PREFIX}/clock`, {
    schema: {
      operationId: 'emulatorAdvanceClock', tags, security, summary: 'Move the clock forward: tokens expire (42001), WeCom media pass their 3 days, rate windows roll',
      body: object('{"advanceMs": 7200000}'),
      response: { 200: object('{"now": epoch ms, "offsetMs": n}'), 400: errorAnswer },
    },
  }, async (request, reply) => {
    try {
      const body = await readJson(request) as Record<string, unknown>;
      if (typeof body.advanceMs !== 'number') throw new FaultError('{"advanceMs": N} expected (milliseconds, ≥ 0)');
      const now = await emulator.advance(body.advanceMs);
      return send(reply, 200, { now, offsetMs: emulator.offsetMs });
    } catch (error) {
      return refuse(reply, error);
    }
  });

  app.get(`${CONTROL_PREFIX}/ids/:id`, {
    schema: {
      operationId: 'emulatorLookupId', tags, security, summary: 'What an id is: which wire, media / access_token / upload_session / app, whose',
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      response: { 200: object('{"id","kind","wire","org","description","details"}'), 404: object('kind "unknown", with what the id is shaped like') },
    },
  }, async (request, reply) => {
    const description = await emulator.lookup((request.params as { id: string }).id);
    return send(reply, description.kind === 'unknown' ? 404 : 200, description);
  });

  app.get(`${CONTROL_PREFIX}/credentials`, {
    schema: { operationId: 'emulatorCredentials', tags, security, summary: 'The well-known credentials (the same in every emulator)', response: { 200: object('per wire: dingtalk, dingtalk2, wecom, wecom2, feishu, feishu2') } },
  }, async (_request, reply) => send(reply, 200, EMULATOR_CREDENTIALS));
}
