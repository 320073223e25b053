// The wires (API dialects) the product speaks, and what differs between them in the product's own
// terms. Everything else (quotas, rate limits, tenancy, durability, sniffing) is one code for all.

export const WIRES = ['dingtalk', 'wecom', 'feishu'] as const;
export type Wire = (typeof WIRES)[number];

export function isWire(value: unknown): value is Wire {
  return typeof value === 'string' && (WIRES as readonly string[]).includes(value);
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * How long a media stays readable after its upload, per wire; null = permanent. DingTalk's and
 * Feishu's ids stay valid while the organization exists; WeCom's temporary media_id lasts 3 days
 * (then 40007, and its bytes are collected).
 */
export const MEDIA_LIFETIME_MS: Readonly<Record<Wire, number | null>> = Object.freeze({
  dingtalk: null,
  wecom: 3 * DAY_MS,
  feishu: null,
});

/**
 * What a token call answers while the app still holds a valid token, per wire. 'renew': that
 * token, renewed to a full lifetime (DingTalk, WeCom). `reissueBelowMs`: that token as it is
 * (expiring when it did) while more than this is left, else a new one beside it, the old one
 * staying valid to its end (Feishu's tenant_access_token: under 30 minutes left).
 */
export const TOKEN_REUSE: Readonly<Record<Wire, 'renew' | { readonly reissueBelowMs: number }>> = Object.freeze({
  dingtalk: 'renew',
  wecom: 'renew',
  feishu: Object.freeze({ reissueBelowMs: 30 * 60 * 1000 }),
});
