// Third-party enterprise apps ("suites", issue 8): an ISV's app that many organizations authorize.
// The ISV gets one access_token per authorizing organization from POST /service/get_corp_token,
// signed with its suite secret over a timestamp and the current suite ticket (docs/suites.md).

import { randomBytes } from 'node:crypto';
import { ApiError } from '@oapi-media/core';
import {
  ConflictError,
  type MetadataStore,
  type Org,
  type Suite,
  type SuiteAuthorization,
  type SuiteTicketRow,
} from '../stores/metadata/interface.ts';
import { AdminError } from './admin.ts';
import { deriveToken, newId, newTokenNonce, sameDigest, sha256Hex } from './ids.ts';
import { SecretBox } from './secret-box.ts';
import { receivedSignature, signaturesMatch, suiteSignature } from './suite-signature.ts';
import type { TokenGrant, TokenService } from './tokens.ts';

export const suitePrincipal = (suiteId: string): string => `suite:${suiteId}`;

/** DingTalk refuses a timestamp more than a minute away from its clock (853002, docs/suites.md). */
export const SIGNATURE_CLOCK_SKEW_MS = 60_000;
/** The current ticket and the one before it are accepted, so an ISV never races a rotation. */
export const VALID_TICKETS = 2;
/** Epoch milliseconds: digits only (853001 otherwise). */
const TIMESTAMP_PATTERN = /^\d{1,15}$/;
const SUITE_NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u;
/** A rotation that lost a race re-reads the winner's ticket; a few attempts are plenty. */
const ROTATION_ATTEMPTS = 3;

export interface SuiteCredentials {
  suite: string;
  suiteKey: string;
  suiteSecret: string;
}

export interface CurrentTicket {
  suiteTicket: string;
  createdAt: number;
  /** After this the ticket is refused (853005); a newer one is issued once it is a period old. */
  expiresAt: number;
}

export interface SuiteSummary {
  suite: string;
  suiteKey: string;
  createdAt: number;
  /** Names of the organizations that authorized it. */
  orgs: string[];
}

/** The query and body of POST /service/get_corp_token, as the dialect read them. */
export interface CorpTokenRequest {
  accessKey: string | undefined;
  timestamp: string | undefined;
  suiteTicket: string | undefined;
  signature: string | undefined;
  authCorpId: string | undefined;
}

/** DingTalk-style suite key: 'suite' + 16 lower-case letters and digits (URL-safe, api.md "Notes"). */
function newSuiteKey(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `suite${Array.from(randomBytes(16), (byte) => alphabet[byte % alphabet.length]).join('')}`;
}

export class SuiteService {
  readonly #metadata: MetadataStore;
  readonly #tokens: TokenService;
  readonly #key: Buffer;
  readonly #secrets: SecretBox;
  readonly #rotationMs: number;
  readonly #now: () => number;

  constructor(metadata: MetadataStore, tokens: TokenService, key: Buffer, rotationSeconds: number, now: () => number) {
    this.#metadata = metadata;
    this.#tokens = tokens;
    this.#key = key;
    this.#secrets = new SecretBox(key, 'suite-secret');
    this.#rotationMs = rotationSeconds * 1000;
    this.#now = now;
  }

  /** A new suite; its secret is returned here once and stored only sealed (secret-box.ts). */
  async createSuite(name: string): Promise<SuiteCredentials> {
    if (!SUITE_NAME_PATTERN.test(name)) throw new AdminError(`invalid suite name ${JSON.stringify(name)}: 1-64 letters, digits, space . _ -`);
    const id = newId();
    const suiteKey = newSuiteKey();
    const suiteSecret = randomBytes(48).toString('base64url'); // 64 characters, like DingTalk's
    await this.#metadata.createSuite({
      id, name, suiteKey, secretCiphertext: this.#secrets.seal(suiteSecret, id), createdAt: this.#now(),
    });
    return { suite: name, suiteKey, suiteSecret };
  }

  async requireSuite(suiteKey: string): Promise<Suite> {
    const suite = await this.#metadata.getSuiteByKey(suiteKey);
    if (!suite) throw new AdminError(`no suite with key ${suiteKey} (list them with: oapi-media suite list)`);
    return suite;
  }

  async authorize(suiteKey: string, org: Org): Promise<SuiteAuthorization> {
    const suite = await this.requireSuite(suiteKey);
    const authorization = { suiteId: suite.id, orgId: org.id, createdAt: this.#now() };
    await this.#metadata.authorizeSuite(authorization);
    return authorization;
  }

  /**
   * Ends the authorization and, at once, every token the suite holds for that org (they answer
   * 40014 from the next call on). False when the org had not authorized the suite.
   */
  async revoke(suiteKey: string, org: Org): Promise<boolean> {
    const suite = await this.requireSuite(suiteKey);
    const removed = await this.#metadata.revokeSuite(suite.id, org.id);
    // Tokens after the authorization: a get_corp_token racing this either sees the authorization
    // gone, or its token is deleted here, or it sees the revocation on its re-check (issueCorpToken).
    await this.#metadata.deleteTokens(suitePrincipal(suite.id), org.id);
    return removed;
  }

  async list(): Promise<SuiteSummary[]> {
    const orgNames = new Map((await this.#metadata.listOrgs()).map((org) => [org.id, org.name]));
    const suites = await this.#metadata.listSuites();
    return Promise.all(
      suites.map(async (suite) => ({
        suite: suite.name,
        suiteKey: suite.suiteKey,
        createdAt: suite.createdAt,
        orgs: (await this.#metadata.listSuiteAuthorizations(suite.id)).map((a) => orgNames.get(a.orgId) ?? a.orgId),
      })),
    );
  }

  /** The ticket an ISV signs with now; a new one replaces it once it is a rotation period old. */
  async currentTicket(suiteKey: string): Promise<CurrentTicket> {
    const suite = await this.requireSuite(suiteKey);
    const newest = await this.#rotateIfDue(suite.id);
    return {
      suiteTicket: this.#ticketOf(newest),
      createdAt: newest.createdAt,
      expiresAt: newest.createdAt + VALID_TICKETS * this.#rotationMs,
    };
  }

  /**
   * POST /service/get_corp_token: checks, in DingTalk's order of concerns, the parameters (40035),
   * the timestamp (853001, 853002), the suite (853003), the signature (853004), the ticket (853005)
   * and the authorization (40079); then the suite's token for that org, the same one while valid.
   */
  async issueCorpToken(request: CorpTokenRequest): Promise<TokenGrant> {
    const { accessKey, timestamp, suiteTicket, signature, authCorpId } = request;
    if (!accessKey || !timestamp || !suiteTicket || !signature || !authCorpId) throw new ApiError('missingParameter');
    if (!TIMESTAMP_PATTERN.test(timestamp)) throw new ApiError('malformedSignatureTimestamp', timestamp);
    const skewMs = Math.abs(this.#now() - Number(timestamp));
    if (skewMs > SIGNATURE_CLOCK_SKEW_MS) throw new ApiError('staleSignatureTimestamp', `${skewMs} ms away`);

    const suite = await this.#metadata.getSuiteByKey(accessKey);
    if (!suite) throw new ApiError('unknownSuite', accessKey);
    const secret = this.#secrets.open(suite.secretCiphertext, suite.id);
    if (!signaturesMatch(suiteSignature(secret, timestamp, suiteTicket), receivedSignature(signature))) {
      throw new ApiError('wrongSignature');
    }
    if (!(await this.#isValidTicket(suite.id, suiteTicket))) throw new ApiError('wrongSuiteTicket');

    const org = await this.#metadata.getOrgByCorpId(authCorpId);
    // An unknown corpid answers as an unauthorized one: a suite learns nothing of other orgs.
    if (!org || !(await this.#metadata.isSuiteAuthorized(suite.id, org.id))) throw new ApiError('suiteNotAuthorized', authCorpId);
    const principal = suitePrincipal(suite.id);
    const grant = await this.#tokens.issue(principal, org.id, 'dingtalk'); // suites are a DingTalk call
    if (!(await this.#metadata.isSuiteAuthorized(suite.id, org.id))) {
      // Revoked between the check and the issue: the revocation wins.
      await this.#metadata.deleteTokens(principal, org.id);
      throw new ApiError('suiteNotAuthorized', `${authCorpId} revoked meanwhile`);
    }
    return grant;
  }

  /** One of the newest two tickets, and issued less than two rotation periods ago. */
  async #isValidTicket(suiteId: string, suiteTicket: string): Promise<boolean> {
    const hash = sha256Hex(suiteTicket);
    const oldestValid = this.#now() - VALID_TICKETS * this.#rotationMs;
    const tickets = await this.#metadata.latestSuiteTickets(suiteId, VALID_TICKETS);
    // Every ticket is compared, so the time taken does not tell which one matched.
    return tickets.map((t) => sameDigest(t.ticketHash, hash) && t.createdAt > oldestValid).includes(true);
  }

  async #rotateIfDue(suiteId: string): Promise<SuiteTicketRow> {
    for (let attempt = 0; attempt < ROTATION_ATTEMPTS; attempt++) {
      const [newest] = await this.#metadata.latestSuiteTickets(suiteId, 1);
      const now = this.#now();
      if (newest && now - newest.createdAt < this.#rotationMs) return newest;
      const nonce = newTokenNonce();
      const ticket: SuiteTicketRow = {
        suiteId, seq: (newest?.seq ?? 0) + 1, ticketHash: '', nonce, createdAt: now,
      };
      ticket.ticketHash = sha256Hex(this.#ticketOf(ticket));
      try {
        await this.#metadata.addSuiteTicket(ticket, VALID_TICKETS);
        return ticket;
      } catch (error) {
        // Another node (or CLI) rotated first: use its ticket rather than push a valid one out.
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new Error(`suite ${suiteId}: ticket rotation kept conflicting`);
  }

  /**
   * A ticket is derived from its stored nonce with the server key (like tokens), so only its hash
   * is stored and the CLI can still print the current one.
   */
  #ticketOf(ticket: SuiteTicketRow): string {
    return deriveToken(this.#key, `suite-ticket:${ticket.nonce}`);
  }
}
