// What the bench needs from each target: start it in a fresh data folder, tell how to upload
// (and download) with it, count what it stored, stop it by its pid. One file per target in
// targets/.

import type { LoadPlan } from './load.ts';
import type { ScenarioId } from './options.ts';
import type { Payload } from './payloads.ts';
import type { SessionPlan } from './session-load.ts';

export const TARGET_NAMES = [
  'bare-http',
  'nginx-webdav',
  'express-multer',
  'fastify-multipart-sqlite',
  'oapi-media',
  'oapi-media-wecom',
  'oapi-media-feishu',
  // Scenario f (large files) only: SessionTarget.
  'oapi-media-tus',
  'oapi-media-chunked',
  'tus-file-store',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** The parts of a load plan that depend on the target; the scenario adds concurrency and time. */
export type TargetRequest = Pick<LoadPlan, 'method' | 'urls' | 'headers' | 'body' | 'success' | 'collectField' | 'expectedResponseBytes'>;

export interface StoredCount {
  files: number;
  bytes: number;
  /** How it was counted, and any content check (sha256 of a sample), for the report. */
  detail: string;
  /** A content check that failed (the bytes stored are not the bytes sent). */
  contentMismatch?: string;
}

export interface RunningTarget {
  pid: number;
  upload(payload: Payload): TargetRequest;
  /** Stores one copy of the payload the target's own way and returns how to GET it. */
  prepareDownload?(payload: Payload): Promise<TargetRequest>;
  /** What is stored now; `acknowledgedIds` are what the target answered (oapi-media's media_ids). */
  countStored(payload: Payload, acknowledgedIds: string[]): Promise<StoredCount>;
  stop(): Promise<void>;
}

export interface Target {
  name: TargetName;
  /** One line for the README and the table's legend. */
  description: string;
  /** The scenarios it takes part in; all of a, b, c when absent (d and e name their own targets). */
  scenarios?: readonly ScenarioId[];
  /** True when it keeps nothing (bare-http): there is nothing to verify. */
  discardsBytes?: boolean;
  /** null when it can run here, else why it is skipped (said in the output). */
  unavailableReason(): Promise<string | null>;
  start(dataDir: string, workDir: string): Promise<RunningTarget>;
}

/** The parts of a session plan (scenario f) that depend on the target: protocol, where, credentials. */
export type SessionRequest = Pick<SessionPlan, 'protocol' | 'url' | 'headers' | 'accessToken'>;

export interface RunningSessionTarget extends Pick<RunningTarget, 'pid' | 'countStored' | 'stop'> {
  sessions(): SessionRequest;
}

/** A target of scenario f: takes a large file in upload sessions (tus, DingTalk's chunked upload). */
export interface SessionTarget {
  name: TargetName;
  description: string;
  start(dataDir: string, workDir: string): Promise<RunningSessionTarget>;
}
