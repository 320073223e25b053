// The wires this server can speak. To add one: a folder beside dingtalk/ whose index.ts exports a
// Dialect (dialect.ts), and one line here; OAPI_MEDIA_DIALECTS then turns it on (config.ts).

import { ConfigError, type DialectMount } from '../config.ts';
import type { Dialect } from './dialect.ts';
import { dingtalk } from './dingtalk/index.ts';

export const DIALECTS: Readonly<Record<string, Dialect>> = Object.freeze({
  dingtalk,
});

export interface MountedDialect {
  dialect: Dialect;
  prefix: string;
}

/** The configured mounts with their dialects; ConfigError for a name the server does not have. */
export function mountedDialects(mounts: readonly DialectMount[]): MountedDialect[] {
  return mounts.map(({ name, prefix }) => {
    const dialect = Object.hasOwn(DIALECTS, name) ? DIALECTS[name] : undefined;
    if (!dialect) throw new ConfigError(`unknown dialect ${name} (this server speaks: ${Object.keys(DIALECTS).join(', ')})`);
    return { dialect, prefix };
  });
}
