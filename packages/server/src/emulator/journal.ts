// The emulator's request journal (GET /__oapi/requests): every API request it answered, bounded to
// the newest `limit` entries, with secrets masked.

import type { IncomingHttpHeaders } from 'node:http';
import type { Wire } from '@oapi-media/core';
import type { FormPartSummary } from '../http/multipart-upload.ts';

/** Query parameters and form fields whose values are secrets: shown as *** in the journal. */
const SECRET_NAMES = /^(access_token|appsecret|corpsecret|app_secret|suite_secret|suite_ticket|signature)$/i;
export const maskSecret = (name: string, value: string): string => (SECRET_NAMES.test(name) ? '***' : value);

/** The request headers the journal keeps: how the body was framed and what range was asked. */
const JOURNALED_HEADERS = ['content-type', 'content-length', 'transfer-encoding', 'range'] as const;
export const journaledHeaders = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(JOURNALED_HEADERS.flatMap((name) => (typeof headers[name] === 'string' ? [[name, headers[name]]] : [])));

/** The journal keeps this many entries by default (the oldest go first). */
export const DEFAULT_JOURNAL_LIMIT = 1000;

export interface JournalAnswer {
  /** HTTP status; null when no answer was sent (a connection reset or closed by a fault, or the client gone). */
  status: number | null;
  /** The wire's errcode (Feishu: its code); 0 for a success, null when there was no answer. */
  errcode: number | null;
  /** The media_id the upload was given, or the one a download asked for. */
  mediaId: string | null;
  /** X-Oapi-Hint, when the answer carried one. */
  hint: string | null;
}

export interface JournalEntry {
  /** 1, 2, 3… in the order requests arrived (the same run after run under the same calls). */
  id: number;
  /** Epoch ms on the emulator's clock. */
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** The request's content-type, content-length, transfer-encoding and range, those it sent. */
  headers: Record<string, string>;
  /** The wire whose path it was; null for a path no wire has. */
  wire: Wire | null;
  /** The calling app's key (appkey, corpid, app_id), from its credentials or its token; null when unknown. */
  app: string | null;
  /** The upload form, part by part; null when the request had no form. */
  form: FormPartSummary[] | null;
  answer: JournalAnswer;
  /** The fault applied to this request, as its rule or header said it; null for none. */
  fault: string | null;
  durationMs: number;
}

export interface JournalFilter {
  /** Exact path, or a prefix ending in `*`. */
  path?: string;
  errcode?: number;
  app?: string;
  wire?: string;
  method?: string;
  /** At most this many, the newest. */
  limit?: number;
}

export const pathMatches = (pattern: string, path: string): boolean =>
  pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;

export class RequestJournal {
  readonly #entries: JournalEntry[] = [];
  readonly #limit: number;
  #nextId = 1;

  constructor(limit: number = DEFAULT_JOURNAL_LIMIT) {
    this.#limit = limit;
  }

  get limit(): number {
    return this.#limit;
  }

  /** Starts an entry for a request arriving now; it is filled in as the request goes. */
  open(fields: Omit<JournalEntry, 'id' | 'answer' | 'fault' | 'durationMs' | 'form'>): JournalEntry {
    const entry: JournalEntry = { id: this.#nextId++, ...fields, form: null, answer: { status: null, errcode: null, mediaId: null, hint: null }, fault: null, durationMs: 0 };
    this.#entries.push(entry);
    if (this.#entries.length > this.#limit) this.#entries.splice(0, this.#entries.length - this.#limit);
    return entry;
  }

  /** The entries matching `filter`, oldest first. */
  list(filter: JournalFilter = {}): JournalEntry[] {
    const matching = this.#entries.filter((e) =>
      (filter.path === undefined || pathMatches(filter.path, e.path))
      && (filter.errcode === undefined || e.answer.errcode === filter.errcode)
      && (filter.app === undefined || e.app === filter.app)
      && (filter.wire === undefined || e.wire === filter.wire)
      && (filter.method === undefined || e.method === filter.method.toUpperCase()));
    return filter.limit === undefined ? matching : matching.slice(-filter.limit);
  }

  /** The newest entry, or undefined. */
  last(): JournalEntry | undefined {
    return this.#entries.at(-1);
  }

  /** Removes every entry (ids go on counting); how many there were. */
  clear(): number {
    return this.#entries.splice(0).length;
  }

  /** As clear, and ids start at 1 again (a full reset). */
  restart(): void {
    this.clear();
    this.#nextId = 1;
  }
}
