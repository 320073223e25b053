// Emulator mode (docs/emulator.md): the real server — every wire, its validation, limits and
// tenancy — with ephemeral state (a data folder in memory, /dev/shm where there is one, removed on
// close), the well-known credentials, ids that follow a seed, a request journal, injectable faults,
// a clock that can be advanced, and the /__oapi/ control plane. Many can run in one process.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp, headerDeadline } from '../app.ts';
import { openServices, type Services } from '../composition-root.ts';
import { loadConfig, type ConfigInput } from '../config.ts';
import { startExpirySweep } from '../server.ts';
import { idRandomness, SeededRandom, randomIdBytes } from '../service/ids.ts';
import { controlPlane } from './control-plane.ts';
import { FaultRules, parseFaultInput, type FaultRule } from './faults.ts';
import { readFixtures, seedFixtures, type EmulatorFixtures, type SeededMedia } from './fixtures.ts';
import { describeId, type IdDescription } from './ids-lookup.ts';
import { RequestJournal, type JournalEntry, type JournalFilter } from './journal.ts';
import { EMULATOR_CREDENTIALS, WELL_KNOWN_APPS, WELL_KNOWN_ORGS, type EmulatorCredentials } from './well-known.ts';

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port (baseUrl says which). */
  port?: number;
  /** The same seed and the same calls give the same media_ids, tokens and journal ids, run after run. */
  seed?: number | string;
  /** Organizations, apps and media to start with: a fixtures file's path, or the fixtures themselves. */
  init?: string | EmulatorFixtures;
  /** Journal entries kept (the oldest go first); default 1000. */
  journalLimit?: number;
  /** Where the server logs; default: nowhere. */
  logger?: Logger;
  /** Server settings beyond the emulator's (e.g. dialects, errmsgLanguage, defaultRateLimitPerSecond, tokenTtlSeconds). */
  config?: ConfigInput;
}

/** What POST /__oapi/reset (and reset()) puts back: everything, or one part. */
export const RESET_SCOPES = ['all', 'media', 'tokens', 'journal', 'faults', 'clock'] as const;
export type ResetScope = (typeof RESET_SCOPES)[number];

export interface EmulatorClock {
  /** The emulator's time (epoch ms): the real time plus every advance. */
  now(): number;
  /** Moves the emulator's time forward: tokens expire, WeCom media pass their 3 days, rate windows roll. Resolves once expired media are swept. */
  advance(ms: number): Promise<number>;
  readonly offsetMs: number;
}

export interface Emulator {
  /** http://127.0.0.1:PORT */
  readonly baseUrl: string;
  readonly port: number;
  /** The well-known credentials (docs/emulator.md), the same in every emulator. */
  readonly credentials: EmulatorCredentials;
  readonly seed: number | string | undefined;
  /** The media of the fixtures (init), with their ids. */
  readonly media: readonly SeededMedia[];
  readonly requests: {
    list(filter?: JournalFilter): JournalEntry[];
    last(): JournalEntry | undefined;
    clear(): number;
  };
  readonly faults: {
    /** Adds a rule (as POST /__oapi/faults takes it): e.g. { path: '/media/upload', errcode: 45009, times: 1 }. */
    add(rule: Record<string, unknown>): FaultRule;
    list(): FaultRule[];
    remove(id: number): boolean;
    clear(): number;
  };
  readonly clock: EmulatorClock;
  /** All state back to the well-known credentials and the fixtures, or only one part of it. */
  reset(scope?: ResetScope): Promise<void>;
  /** What an id is: which wire, media / token / upload / app, whose (GET /__oapi/ids/:id). */
  lookup(id: string): Promise<IdDescription>;
  /** The running server's services (its stores), for tests that look behind the API. */
  readonly services: Services;
  /** The running server's Fastify app (a reset replaces it), for tests that inject requests. */
  readonly app: FastifyInstance;
  /** The node:http server that listens at baseUrl (the same across resets). */
  readonly server: Server;
  close(): Promise<void>;
}

/** Where the emulator's data folders go: memory (tmpfs) where the system has it, else the temp folder. */
export function memoryFolder(): string {
  return process.platform === 'linux' && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

interface State {
  dir: string;
  /** The periodic expiry sweep, when config.expirySweepIntervalMs asks for one (by default the clock's advance sweeps). */
  sweep: { stop(): Promise<void> };
  services: Services;
  app: FastifyInstance;
  /** The seed's id stream of this state (each reset starts it again), or undefined for random ids. */
  random: SeededRandom | undefined;
  media: SeededMedia[];
}

/** Pending waits of faults (delay, stall): a close ends them at once. */
export class FaultWaits {
  readonly #pending = new Set<() => void>();
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#pending.add(done);
    });
  }
  endAll(): void {
    for (const done of [...this.#pending]) done();
  }
}

export class EmulatorError extends Error {
  override name = 'EmulatorError';
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const seed = options.seed;
  const logger = options.logger ?? pino({ level: 'silent' });
  const baseNow = options.config?.now ?? Date.now;
  let offsetMs = 0;
  const now = () => baseNow() + offsetMs;
  const journal = new RequestJournal(options.journalLimit);
  let faultDraws = seed === undefined ? undefined : new SeededRandom(seed, 'faults');
  const faults = new FaultRules(() => (faultDraws ? faultDraws.fraction() : randomIdBytes(6).readUIntBE(0, 6) / 2 ** 48));
  const waits = new FaultWaits();
  const fixtures = typeof options.init === 'string' ? await readFixtures(options.init) : options.init ? { fixtures: options.init, baseDir: process.cwd() } : undefined;
  // Tokens are derived with this key: from the seed, so that a seeded run's tokens repeat.
  const secretKey = `oapi-media-emulator-key:${seed ?? randomIdBytes(16).toString('hex')}`;
  let seeding = false;
  let state: State;

  const build = async (): Promise<State> => {
    const dir = await mkdtemp(join(memoryFolder(), 'oapi-media-emulator-'));
    try {
      const config = loadConfig({
        host: '127.0.0.1',
        logLevel: 'silent',
        shutdownGraceMs: 2_000,
        expirySweepIntervalMs: 0, // swept when the clock moves (clock.advance)
        ...options.config,
        port: 0,
        dataDir: dir,
        secretKey,
        now,
      }, {});
      const services = await openServices(config);
      const random = seed === undefined ? undefined : new SeededRandom(seed);
      let app: FastifyInstance | undefined;
      try {
        app = await buildApp(services, { logger, extension: controlPlane(controller) });
        await app.ready();
        const ready = app;
        const media = await inSeed(random, async () => {
          seeding = true;
          try {
            for (const org of WELL_KNOWN_ORGS) await services.admin.createOrg(org);
            for (const known of WELL_KNOWN_APPS) await services.admin.createApp(known.org, known.app, known.wire, { appkey: known.key, appsecret: known.secret });
            const seeded = fixtures ? await seedFixtures(ready, services.admin, fixtures.fixtures, fixtures.baseDir) : [];
            // The fixtures' uploads took tokens: a fresh emulator has none.
            await services.metadata.deleteExpiredTokens(Number.MAX_SAFE_INTEGER);
            return seeded;
          } finally {
            seeding = false;
          }
        });
        return { dir, services, app, random, media, sweep: startExpirySweep(services, config.expirySweepIntervalMs, app.log) };
      } catch (error) {
        await app?.close().catch(() => {});
        await services.close();
        throw error;
      }
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  };

  const closeState = async (old: State): Promise<void> => {
    await old.sweep.stop();
    await old.app.close();
    await old.services.close();
    await rm(old.dir, { recursive: true, force: true });
  };

  /** A fresh state in place of the old one, which `closeOld` closes (at once, or once an answer is sent). */
  const resetAll = async (closeOld: (close: () => Promise<void>) => void | Promise<void>): Promise<void> => {
    offsetMs = 0;
    journal.restart();
    faults.clear();
    faultDraws = seed === undefined ? undefined : new SeededRandom(seed, 'faults');
    const old = state;
    state = await build();
    await closeOld(() => closeState(old));
  };

  const controller: EmulatorController = {
    journal,
    faults,
    waits,
    now,
    get seeding() { return seeding; },
    get services() { return state.services; },
    get offsetMs() { return offsetMs; },
    advance: async (ms: number) => {
      if (!Number.isFinite(ms) || ms < 0) throw new EmulatorError('advanceMs must be a number ≥ 0 (the clock only moves forward)');
      offsetMs += ms;
      await Promise.all([state.services.media.sweepExpired(), state.services.sessions.sweepExpired()]);
      return now();
    },
    reset: async (scope: ResetScope, beforeClose?: (close: () => Promise<void>) => void) => {
      switch (scope) {
        // Asked over HTTP (beforeClose), the old state answers that request, then closes.
        case 'all': return resetAll(beforeClose ?? ((close) => close()));
        case 'media': return removeAllMedia(state.services);
        case 'tokens': { await state.services.metadata.deleteExpiredTokens(Number.MAX_SAFE_INTEGER); return; }
        case 'journal': { journal.clear(); return; }
        case 'faults': { faults.clear(); return; }
        case 'clock': { offsetMs = 0; return; }
      }
    },
    lookup: (id: string) => describeId(id, state.services.metadata, now()),
  };

  state = await build();
  const config = state.services.config;
  // The server fastify would have listened with (app.ts): its header deadline and check interval.
  const server = createServer(headerDeadline(config.headerTimeoutMs), (request, response) => {
    const current = state;
    inSeed(current.random, () => current.app.routing(request, response));
  });
  // And what fastify set on it: its idle timeout, keep-alive (72 s: clients reusing an idle
  // connection must not race a 5 s close, ECONNRESET) and request timeout.
  const model = state.app.server;
  server.setTimeout(model.timeout);
  server.keepAliveTimeout = model.keepAliveTimeout;
  server.requestTimeout = model.requestTimeout;
  server.maxRequestsPerSocket = model.maxRequestsPerSocket ?? 0;
  server.on('clientError', (error, socket) => state.app.server.emit('clientError', error, socket));
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await closeState(state);
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;

  return {
    baseUrl,
    port,
    credentials: EMULATOR_CREDENTIALS,
    seed,
    get media() { return state.media; },
    requests: {
      list: (filter) => journal.list(filter),
      last: () => journal.last(),
      clear: () => journal.clear(),
    },
    faults: {
      add: (rule) => faults.add(parseFaultInput(rule)),
      list: () => faults.list(),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
    },
    clock: {
      now,
      advance: (ms) => controller.advance(ms),
      get offsetMs() { return offsetMs; },
    },
    reset: (scope = 'all') => controller.reset(scope),
    lookup: (id) => controller.lookup(id),
    get services() { return state.services; },
    get app() { return state.app; },
    server,
    close() {
      closing ??= (async () => {
        waits.endAll();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await closed;
        await closeState(state);
      })();
      return closing;
    },
  };
}

/** What the control plane and the hooks reach of an emulator. */
export interface EmulatorController {
  readonly journal: RequestJournal;
  readonly faults: FaultRules;
  readonly waits: FaultWaits;
  readonly now: () => number;
  /** True while the well-known apps and fixtures are created (their requests are not journaled). */
  readonly seeding: boolean;
  readonly services: Services;
  readonly offsetMs: number;
  advance(ms: number): Promise<number>;
  /** `beforeClose`: asked over HTTP, the caller closes the old state once its answer is sent. */
  reset(scope: ResetScope, beforeClose?: (close: () => Promise<void>) => void): Promise<void>;
  lookup(id: string): Promise<IdDescription>;
}

/** Runs `work` with ids drawn from the seed's stream, or from the system's randomness without one. */
function inSeed<T>(random: SeededRandom | undefined, work: () => T): T {
  return random ? idRandomness.run(random, work) : work();
}

/** Every media (rows, then bytes) and every open upload session of every organization. */
async function removeAllMedia(services: Services): Promise<void> {
  const { metadata, admin, sessions } = services;
  for (const org of await metadata.listOrgs()) {
    for (;;) {
      const page = await metadata.listMedia(org.id, { limit: 500 });
      if (page.items.length === 0) break;
      for (const media of page.items) await admin.deleteMedia(media.mediaId).catch(() => {});
    }
  }
  for (;;) {
    const open = await metadata.expiredUploadSessions(Number.MAX_SAFE_INTEGER, 200);
    if (open.length === 0) break;
    for (const session of open) await sessions.terminate(session);
  }
}
