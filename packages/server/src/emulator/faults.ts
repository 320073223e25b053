// Injectable faults (POST /__oapi/faults, the X-Oapi-Fault header): what real platforms and the
// networks in front of them do to an app, on demand, so that its retry and error paths are tested.

import { pathMatches } from './journal.ts';

/**
 * What a fault does:
 * - errcode: answers that code in the wire's shape (its table's message and HTTP status, or `status`);
 * - delay: waits `delayMs`, then the request goes on (or answers `errcode` if given too);
 * - reset: resets the connection (TCP RST), no answer (afterHandling: once the request was handled);
 * - close: closes the connection without an answer (curl: "Empty reply from server");
 * - empty: HTTP 200 with an empty body;
 * - stall: answers nothing for `stallMs` (default 120 s, past any client's timeout), then resets;
 * - gateway413: the HTML 413 a platform's gateway (nginx) sends for a body over its limit.
 */
export const FAULT_KINDS = ['errcode', 'delay', 'reset', 'close', 'empty', 'stall', 'gateway413'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const DEFAULT_STALL_MS = 120_000;

export interface FaultAction {
  kind: FaultKind;
  /**
   * reset and close only: the request is handled first (an upload is stored), then the connection
   * goes instead of the answer — a lost answer, the case that makes retries need idempotency.
   */
  afterHandling?: boolean;
  errcode?: number;
  status?: number;
  delayMs?: number;
  stallMs?: number;
}

export interface FaultMatch {
  /** Exact path or a prefix ending in `*`; any when absent. */
  path?: string;
  method?: string;
  /** The calling app's key (appkey, corpid, app_id). */
  app?: string;
  /** The media type of the request (`type` in its query, or Feishu's images path: image). */
  mediaType?: string;
}

export interface FaultRule extends FaultMatch, FaultAction {
  id: number;
  /** Fires this many times, then stops matching; unlimited when absent. */
  times?: number;
  /** Fires with this probability (0..1) when it matches; drawn from the seed when there is one. */
  probability?: number;
  /** How many times it has fired. */
  fired: number;
}

export type FaultInput = Omit<FaultRule, 'id' | 'fired'>;

export class FaultError extends Error {
  override name = 'FaultError';
}

const isPositiveInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;
/** Checks a rule as a user sent it (JSON), naming the first thing wrong. */
export function parseFaultInput(input: unknown): FaultInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FaultError('a fault is a JSON object, e.g. {"path":"/media/upload","errcode":45009,"times":1}');
  const raw = input as Record<string, unknown>;
  const known = new Set(['path', 'method', 'app', 'mediaType', 'kind', 'errcode', 'status', 'delayMs', 'stallMs', 'times', 'probability', 'afterHandling']);
  const unknown = Object.keys(raw).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new FaultError(`unknown field(s) ${unknown.join(', ')}: a fault has ${[...known].join(', ')}`);
  for (const key of ['path', 'method', 'app', 'mediaType'] as const) {
    if (raw[key] !== undefined && typeof raw[key] !== 'string') throw new FaultError(`${key} must be a string`);
  }
  if (raw.errcode !== undefined && !Number.isInteger(raw.errcode)) throw new FaultError('errcode must be a whole number (e.g. 45009, or -1)');
  for (const key of ['status', 'delayMs', 'stallMs', 'times'] as const) {
    if (raw[key] !== undefined && !isPositiveInteger(raw[key])) throw new FaultError(`${key} must be a whole number ≥ 0`);
  }
  if (raw.probability !== undefined && (typeof raw.probability !== 'number' || raw.probability < 0 || raw.probability > 1)) {
    throw new FaultError('probability must be a number from 0 to 1');
  }
  if (raw.status !== undefined && ((raw.status as number) < 200 || (raw.status as number) > 599)) throw new FaultError('status must be an HTTP status from 200 to 599');
  // The kind follows from the fields when not given: an errcode answers it, a delay alone delays.
  const kind = raw.kind ?? (raw.errcode !== undefined ? 'errcode' : raw.delayMs !== undefined ? 'delay' : undefined);
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new FaultError(`kind must be one of ${FAULT_KINDS.join(', ')} (or give errcode or delayMs)`);
  }
  if (kind === 'errcode' && raw.errcode === undefined) throw new FaultError('kind errcode needs an errcode');
  if (raw.afterHandling !== undefined && typeof raw.afterHandling !== 'boolean') throw new FaultError('afterHandling must be true or false');
  if (raw.afterHandling === true && kind !== 'reset' && kind !== 'close') throw new FaultError('afterHandling is for kind reset or close (the answer is lost after the request was handled)');
  if (kind === 'delay' && raw.delayMs === undefined) throw new FaultError('kind delay needs delayMs');
  return { ...(raw as Omit<FaultInput, 'kind'>), kind: kind as FaultKind, ...(raw.method === undefined ? {} : { method: (raw.method as string).toUpperCase() }) };
}

/**
 * One call's fault from its X-Oapi-Fault header: `errcode=45009`, `errcode=45009,status=503`,
 * `delay=500`, `reset`, `close`, `empty`, `stall`, `stall=2000`, `gateway413`.
 */
export function parseFaultHeader(header: string): FaultAction {
  const action: Partial<FaultAction> = {};
  for (const item of header.split(',').map((part) => part.trim()).filter(Boolean)) {
    const [name = '', value] = item.split('=').map((part) => part.trim());
    const number = value === undefined ? undefined : Number(value);
    // Only an errcode may be negative (-1: DingTalk's and WeCom's "system busy").
    const valid = name === 'errcode' ? Number.isInteger(number) : isPositiveInteger(number);
    if (value !== undefined && !valid) throw new FaultError(`X-Oapi-Fault: ${name} needs a whole number, not ${JSON.stringify(value)}`);
    switch (name) {
      case 'errcode': action.kind ??= 'errcode'; action.errcode = number; break;
      case 'status': action.status = number; break;
      case 'delay': action.kind ??= 'delay'; action.delayMs = number; break;
      case 'stall': action.kind = 'stall'; if (number !== undefined) action.stallMs = number; break;
      case 'reset': case 'close': case 'empty': case 'gateway413': action.kind = name; break;
      case 'after': action.afterHandling = true; break;
      default: throw new FaultError(`X-Oapi-Fault: unknown ${JSON.stringify(name)} (errcode=N[,status=N], delay=MS, reset[,after], close[,after], empty, stall[=MS], gateway413)`);
    }
  }
  if (action.kind === undefined) throw new FaultError('X-Oapi-Fault: empty (e.g. errcode=45009 or reset)');
  if (action.kind === 'errcode' && action.errcode === undefined) throw new FaultError('X-Oapi-Fault: errcode needs a value (errcode=45009)');
  if (action.afterHandling && action.kind !== 'reset' && action.kind !== 'close') throw new FaultError('X-Oapi-Fault: after goes with reset or close (reset,after)');
  return action as FaultAction;
}

/** A fault as the journal shows it: `errcode=45009`, `reset`, `delay=500`… */
export function describeFault(action: FaultAction): string {
  const parts: string[] = [];
  if (action.kind !== 'errcode' && action.kind !== 'delay') parts.push(action.kind === 'stall' && action.stallMs !== undefined ? `stall=${action.stallMs}` : action.kind);
  if (action.delayMs !== undefined) parts.push(`delay=${action.delayMs}`);
  if (action.errcode !== undefined) parts.push(`errcode=${action.errcode}`);
  if (action.status !== undefined) parts.push(`status=${action.status}`);
  if (action.afterHandling) parts.push('after');
  return parts.join(',');
}

export interface FaultRequest {
  path: string;
  method: string;
  app: string | null;
  mediaType: string | null;
}

/** The rules, in the order they were added; the first that matches (and draws) fires. */
export class FaultRules {
  readonly #rules: FaultRule[] = [];
  #nextId = 1;
  readonly #draw: () => number;

  /** `draw` gives numbers in [0, 1) for probabilities: the seed's stream in a seeded emulator. */
  constructor(draw: () => number) {
    this.#draw = draw;
  }

  add(input: FaultInput): FaultRule {
    const rule: FaultRule = { ...input, id: this.#nextId++, fired: 0 };
    this.#rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.#rules.map((rule) => ({ ...rule }));
  }

  remove(id: number): boolean {
    const at = this.#rules.findIndex((rule) => rule.id === id);
    if (at === -1) return false;
    this.#rules.splice(at, 1);
    return true;
  }

  clear(): number {
    return this.#rules.splice(0).length;
  }

  /** The rule that fires for this request, counted as fired; undefined when none does. */
  fire(request: FaultRequest): FaultRule | undefined {
    for (const rule of this.#rules) {
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      if (rule.path !== undefined && !pathMatches(rule.path, request.path)) continue;
      if (rule.method !== undefined && rule.method !== request.method) continue;
      if (rule.app !== undefined && rule.app !== request.app) continue;
      if (rule.mediaType !== undefined && rule.mediaType !== request.mediaType) continue;
      if (rule.probability !== undefined && this.#draw() >= rule.probability) continue;
      rule.fired += 1;
      return rule;
    }
    return undefined;
  }
}
