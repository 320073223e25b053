// The wires this server can speak. To add one: a folder beside dingtalk/ whose index.ts exports a
// Dialect (dialect.ts), and one line here; OAPI_MEDIA_DIALECTS then turns it on (config.ts).

import { ConfigError, type DialectMount } from '../config.ts';
import type { Dialect } from './dialect.ts';
import { dingtalk } from './dingtalk/index.ts';
import { feishu } from './feishu/index.ts';
import { wecom } from './wecom/index.ts';

export const DIALECTS: Readonly<Record<string, Dialect>> = Object.freeze({
  dingtalk,
  wecom,
  feishu,
});

export interface MountedDialect {
  dialect: Dialect;
  /** Where its routes are: the configured prefix, then the wire's base path. */
  prefix: string;
}

/** The configured mounts with their dialects; ConfigError for a name the server does not have. */
export function mountedDialects(mounts: readonly DialectMount[]): MountedDialect[] {
  return mounts.map(({ name, prefix }) => {
    const dialect = Object.hasOwn(DIALECTS, name) ? DIALECTS[name] : undefined;
    if (!dialect) throw new ConfigError(`unknown dialect ${name} (this server speaks: ${Object.keys(DIALECTS).join(', ')})`);
    return { dialect, prefix: `${prefix}${dialect.basePath}` };
  });
}
