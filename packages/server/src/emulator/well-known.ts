// The emulator's well-known credentials (docs/emulator.md): fixed and published, like Azurite's
// development account, so that a test suite or a CI service definition can hard-code them. Two
// organizations, each with one app per wire, for tenancy tests.

import type { Wire } from '@oapi-media/core';

export interface WellKnownApp {
  /** The organization the app belongs to. */
  org: string;
  /** The app's name in that organization. */
  app: string;
  wire: Wire;
  /** DingTalk's appkey, WeCom's corpid, Feishu's app_id. */
  key: string;
  /** DingTalk's appsecret, WeCom's corpsecret, Feishu's app_secret. */
  secret: string;
}

export const EMULATOR_SECRET = 'oapi-media-emulator-secret';
export const EMULATOR_SECRET_2 = 'oapi-media-emulator-secret-2';

/** The first organization's apps and the second's (its keys and secrets end in 2). */
export const WELL_KNOWN_ORGS = ['emulator', 'emulator2'] as const;

const KEY_STEMS: Readonly<Record<Wire, string>> = { dingtalk: 'dingoapiemulator', wecom: 'wwoapiemulator', feishu: 'cli_oapiemulator' };

export const WELL_KNOWN_APPS: readonly WellKnownApp[] = Object.freeze(
  WELL_KNOWN_ORGS.flatMap((org, index) => (Object.keys(KEY_STEMS) as Wire[]).map((wire) => Object.freeze({
    org,
    app: wire,
    wire,
    key: `${KEY_STEMS[wire]}${index === 0 ? '' : '2'}`,
    secret: index === 0 ? EMULATOR_SECRET : EMULATOR_SECRET_2,
  }))),
);

/** The credentials as each wire names them, for users: `credentials.dingtalk.appkey`, `credentials.wecom2.corpsecret`, … */
export interface EmulatorCredentials {
  dingtalk: { org: string; appkey: string; appsecret: string };
  dingtalk2: { org: string; appkey: string; appsecret: string };
  wecom: { org: string; corpid: string; corpsecret: string };
  wecom2: { org: string; corpid: string; corpsecret: string };
  feishu: { org: string; app_id: string; app_secret: string };
  feishu2: { org: string; app_id: string; app_secret: string };
}

function app(wire: Wire, second: boolean): WellKnownApp {
  return WELL_KNOWN_APPS.find((a) => a.wire === wire && (a.org === WELL_KNOWN_ORGS[1]) === second)!;
}

export const EMULATOR_CREDENTIALS: EmulatorCredentials = Object.freeze({
  dingtalk: { org: app('dingtalk', false).org, appkey: app('dingtalk', false).key, appsecret: app('dingtalk', false).secret },
  dingtalk2: { org: app('dingtalk', true).org, appkey: app('dingtalk', true).key, appsecret: app('dingtalk', true).secret },
  wecom: { org: app('wecom', false).org, corpid: app('wecom', false).key, corpsecret: app('wecom', false).secret },
  wecom2: { org: app('wecom', true).org, corpid: app('wecom', true).key, corpsecret: app('wecom', true).secret },
  feishu: { org: app('feishu', false).org, app_id: app('feishu', false).key, app_secret: app('feishu', false).secret },
  feishu2: { org: app('feishu', true).org, app_id: app('feishu', true).key, app_secret: app('feishu', true).secret },
});
