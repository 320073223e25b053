// The operator CLI: `oapi-media serve | org | app | media ...`. Every command takes --data like
// serve and is safe to run while the server runs (SQLite WAL; the CLI never touches staging).

import { Command, Option } from 'commander';
import { loadConfig, type ConfigInput } from './config.ts';
import { AdminError, parseLimit, type OrgLimits } from './service/admin.ts';
import type { Org, OrgUsage } from './stores/metadata/interface.ts';
import { DataFolderInUseError } from './service/data-lock.ts';
import { ConfigError } from './config.ts';
import { openServices, type Services } from './services.ts';
import { startServer } from './server.ts';
import { addSuiteCommands } from './suite-cli.ts';
import { migrateMetadataStore } from './stores/open.ts';

interface CommonOptions {
  data?: string;
}

const dataOption = () => new Option('--data <dir>', 'data folder (env OAPI_MEDIA_DATA, default ./data)');

async function withServices<T>(options: CommonOptions, work: (services: Services) => Promise<T>): Promise<T> {
  const services = await openServices(loadConfig({ dataDir: options.data, logLevel: 'silent' }));
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

const program = new Command('oapi-media')
  .description('DingTalk-compatible enterprise media service: server and operator commands')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the server (default: SQLite + local disk in the data folder)')
  .addOption(new Option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)'))
  .addOption(new Option('--port <port>', 'port to listen on (env PORT, default 8080)'))
  .addOption(dataOption())
  .addOption(new Option('--errmsg-language <lang>', 'errmsg text: zh (DingTalk\'s own) or en').choices(['zh', 'en']))
  .action(async (options: CommonOptions & { host?: string; port?: string; errmsgLanguage?: string }) => {
    const input: ConfigInput = { host: options.host, port: options.port, dataDir: options.data, errmsgLanguage: options.errmsgLanguage };
    const config = loadConfig(input);
    const server = await startServer(config);
    const lines = [`oapi-media listening on ${server.url} (data: ${config.dataDir})`];
    const creds = server.firstStartCredentials;
    if (creds) {
      lines.push(
        '',
        `First start: created organization "${creds.org}" with app "${creds.app}".`,
        'Save the appsecret now: it is stored only as a hash and never shown again.',
        `  appkey:    ${creds.appkey}`,
        `  appsecret: ${creds.appsecret}`,
        '',
        'Get an access_token:',
        `  curl '${server.url}/gettoken?appkey=${creds.appkey}&appsecret=${creds.appsecret}'`,
        'Upload a file with it:',
        `  curl -F access_token=ACCESS_TOKEN -F type=image -F 'media=@photo.png' ${server.url}/media/upload`,
        '',
      );
    } else {
      lines.push(
        `Get an access_token: curl '${server.url}/gettoken?appkey=APPKEY&appsecret=APPSECRET'`,
        '  (new credentials: npx oapi-media app create --org default --name myapp)',
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    const stop = async (signal: string) => {
      server.app.log.info({ signal }, 'shutting down');
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

program
  .command('migrate')
  .description('apply pending PostgreSQL migrations (DATABASE_URL); SQLite migrates itself when opened')
  .addOption(dataOption())
  .option('--json', 'print {"engine","applied"}')
  .action(async (options: CommonOptions & { json?: boolean }) => {
    // Safe beside running nodes: migrations serialize on an advisory lock and skip what is applied.
    const applied = await migrateMetadataStore(loadConfig({ dataDir: options.data, logLevel: 'silent' }));
    if (applied === null) {
      print(!!options.json, { engine: 'sqlite', applied: [] }, 'SQLite (the embedded default) applies its migrations when opened: nothing to do.');
      return;
    }
    print(
      !!options.json,
      { engine: 'postgres', applied },
      applied.length === 0 ? 'PostgreSQL schema up to date: no migration pending.' : `applied PostgreSQL migrations ${applied.join(', ')}`,
    );
  });

const org = program.command('org').description('organizations (tenants)');
org
  .command('create <name>')
  .description('create an organization')
  .addOption(dataOption())
  .option('--json', 'print JSON')
  .action(async (name: string, options: CommonOptions & { json?: boolean }) =>
    withServices(options, async (services) => {
      const created = await services.admin.createOrg(name);
      print(!!options.json, { org: created.name, corpid: created.corpId }, `created organization ${created.name} (corpid ${created.corpId})`);
    }),
  );
org
  .command('list')
  .description('list organizations')
  .addOption(dataOption())
  .option('--json', 'print JSON')
  .action(async (options: CommonOptions & { json?: boolean }) =>
    withServices(options, async (services) => {
      const orgs = await services.metadata.listOrgs();
      const rows = await Promise.all(orgs.map(async (o) => orgSummary(o, await services.metadata.usage(o.id))));
      print(!!options.json, rows, rows.map((r) => `${r.org}\t${r.corpid}\t${r.mediaCount} media\t${r.totalBytes} bytes\t${limitsText(r)}`).join('\n'));
    }),
  );
org
  .command('limits <name>')
  .description('set (or show) the storage quota and per-app request rate of an organization')
  .option('--quota <bytes>', 'storage quota in bytes (45010 past it), or none')
  .option('--rate <n>', 'requests per second per app (45009 past it), or none for the server default')
  .addOption(dataOption())
  .option('--json', 'print JSON')
  .action(async (name: string, options: CommonOptions & { quota?: string; rate?: string; json?: boolean }) =>
    withServices(options, async (services) => {
      const limits: OrgLimits = {};
      if (options.quota !== undefined) limits.quotaBytes = parseLimit('quota', options.quota, 0);
      if (options.rate !== undefined) limits.rateLimitPerSecond = parseLimit('rate', options.rate, 1);
      const updated = await services.admin.setOrgLimits(name, limits);
      const row = orgSummary(updated, await services.metadata.usage(updated.id));
      print(!!options.json, row, `${row.org}\t${limitsText(row)}`);
    }),
  );

program
  .command('usage')
  .description('storage used by an organization, against its quota')
  .requiredOption('--org <name>', 'organization')
  .addOption(dataOption())
  .option('--json', 'print JSON')
  .action(async (options: CommonOptions & { org: string; json?: boolean }) =>
    withServices(options, async (services) => {
      const found = await services.admin.requireOrg(options.org);
      const row = orgSummary(found, await services.metadata.usage(found.id));
      const left = row.quotaBytes === null ? 'no quota' : `${row.quotaBytes - row.totalBytes} bytes left of ${row.quotaBytes}`;
      print(!!options.json, row, `${row.org}\t${row.mediaCount} media\t${row.totalBytes} bytes\t${left}`);
    }),
  );

interface OrgSummary extends OrgUsage {
  org: string;
  corpid: string;
  /** null: unlimited. */
  quotaBytes: number | null;
  /** null: the server default (OAPI_MEDIA_RATE_LIMIT). */
  rateLimitPerSecond: number | null;
}

function orgSummary(o: Org, usage: OrgUsage): OrgSummary {
  return { org: o.name, corpid: o.corpId, ...usage, quotaBytes: o.quotaBytes, rateLimitPerSecond: o.rateLimitPerSecond };
}

function limitsText(r: OrgSummary): string {
  return `quota ${r.quotaBytes === null ? 'none' : `${r.quotaBytes} bytes`}\trate ${r.rateLimitPerSecond === null ? 'default' : `${r.rateLimitPerSecond}/s`}`;
}

const app = program.command('app').description('apps of an organization (appkey / appsecret)');
app
  .command('create')
  .description('create an app; prints its appkey and appsecret once')
  .requiredOption('--org <name>', 'organization')
  .requiredOption('--name <name>', 'app name')
  .addOption(dataOption())
  .option('--json', 'print {"org","app","appkey","appsecret"}')
  .action(async (options: CommonOptions & { org: string; name: string; json?: boolean }) =>
    withServices(options, async (services) => {
      const creds = await services.admin.createApp(options.org, options.name);
      print(!!options.json, creds, `appkey:    ${creds.appkey}\nappsecret: ${creds.appsecret}\n(the appsecret is not shown again)`);
    }),
  );

const media = program.command('media').description('stored media');
media
  .command('list')
  .description('list the media of an organization')
  .requiredOption('--org <name>', 'organization')
  .option('--limit <n>', 'at most this many', '1000')
  .addOption(dataOption())
  .option('--json', 'print JSON')
  .action(async (options: CommonOptions & { org: string; limit: string; json?: boolean }) =>
    withServices(options, async (services) => {
      const found = await services.admin.requireOrg(options.org);
      const limit = Math.max(1, Number(options.limit) || 1000);
      const items = [];
      let after: string | undefined;
      do {
        const page = await services.metadata.listMedia(found.id, { limit: Math.min(500, limit - items.length), after });
        items.push(...page.items);
        after = page.next ?? undefined;
      } while (after !== undefined && items.length < limit);
      const rows = items.map((m) => ({
        media_id: m.mediaId, type: m.type, format: m.format, size: m.size, sha256: m.sha256,
        file_name: m.fileName, created_at: m.createdAt,
      }));
      print(!!options.json, rows, rows.map((r) => `${r.media_id}\t${r.type}\t${r.size}\t${new Date(r.created_at).toISOString()}\t${r.file_name}`).join('\n'));
    }),
  );
media
  .command('delete <mediaId>')
  .description('delete a media file (row and bytes)')
  .addOption(dataOption())
  .action(async (mediaId: string, options: CommonOptions) =>
    withServices(options, async (services) => {
      const removed = await services.media.remove(mediaId);
      if (!removed) throw new AdminError(`no media ${mediaId}`);
      process.stdout.write(`deleted ${mediaId}\n`);
    }),
  );

addSuiteCommands(program, { dataOption, withServices, print });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`oapi-media: ${error instanceof AdminError || error instanceof DataFolderInUseError || error instanceof ConfigError ? error.message : (error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
