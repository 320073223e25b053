// nginx-webdav: nginx's WebDAV PUT of the raw bytes into a folder (the disk-write ceiling), and
// static GET with sendfile for the download scenario. Debian's nginx-full (or nginx-extras) has
// the dav module; where nginx is missing the bench installs it with apt-get when it runs as root,
// and otherwise skips this target with the reason.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../free-port.ts';
import { nginxConfig, nginxLayout } from '../nginx-config.ts';
import { captureStderrTail, SERVER_CORE, startProcess, stopProcess } from '../processes.ts';
import { SERVER_LIFETIME_MS, SERVER_START_TIMEOUT_MS } from '../listening-server.ts';
import type { Target } from '../target.ts';
import { countPayloadFiles } from '../verify-stored.ts';

const NGINX_CANDIDATES = ['nginx', '/usr/sbin/nginx'];

function findNginxWithDav(): { path: string } | { reason: string } {
  for (const path of NGINX_CANDIDATES) {
    const version = spawnSync(path, ['-V'], { encoding: 'utf8' });
    if (version.error) continue;
    const text = `${version.stdout}${version.stderr}`;
    if (!text.includes('--with-http_dav_module')) return { reason: `${path} has no http_dav_module (install Debian's nginx-full)` };
    return { path };
  }
  return { reason: 'nginx is not installed' };
}

function tryAptInstall(): string {
  if (process.getuid?.() !== 0) return 'not root, so not installing it (run: apt-get install nginx-full)';
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return 'apt-get is not available';
  process.stderr.write('bench: nginx missing; installing Debian nginx-full with apt-get (once)\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-full'], { env, encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore', timeout: 300_000 });
    install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-full'], { env, encoding: 'utf8', timeout: 300_000 });
  }
  return install.status === 0 ? '' : `apt-get install nginx-full failed: ${(install.stderr ?? '').slice(-300)}`;
}

let nginxPath: string | undefined;

/**
 * nginx cannot notice that the bench died (a SIGKILL leaves no handler to run): the next run
 * stops any nginx of an earlier run's folder, by the pid in that folder's pid file, and only if
 * that pid's command line still names that folder's config.
 */
function stopLeftoverNginx(): void {
  for (const run of readdirSync(tmpdir()).filter((name) => name.startsWith('oapi-media-bench-'))) {
    const runDir = join(tmpdir(), run);
    for (const folder of readdirSync(runDir).filter((name) => name.startsWith('nginx-webdav-'))) {
      const layout = nginxLayout(join(runDir, folder));
      const pidFile = join(layout.dir, 'nginx.pid');
      if (!existsSync(pidFile)) continue;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(layout.configPath)) {
          process.stderr.write(`bench: stopping nginx pid ${pid} left by an earlier run (${layout.dir})\n`);
          process.kill(pid, 'SIGKILL');
        }
      } catch {
        // not running any more
      }
    }
  }
}

function waitUntilAccepting(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nginx did not accept connections on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export const nginxWebdav: Target = {
  name: 'nginx-webdav',
  description: 'nginx (Debian nginx-full) WebDAV PUT of the raw bytes into a folder, body temp on the same filesystem (the disk-write ceiling); static GET with sendfile',
  async unavailableReason() {
    stopLeftoverNginx();
    let found = findNginxWithDav();
    if ('reason' in found && found.reason === 'nginx is not installed') {
      const failure = tryAptInstall();
      if (failure) return `nginx is not installed and ${failure}`;
      found = findNginxWithDav();
    }
    if ('reason' in found) return found.reason;
    nginxPath = found.path;
    return null;
  },
  async start(dataDir) {
    const layout = nginxLayout(dataDir);
    for (const dir of [layout.uploadDir, layout.staticDir, layout.bodyTempDir]) mkdirSync(dir, { recursive: true });
    const port = await freePort();
    writeFileSync(layout.configPath, nginxConfig(layout, port));
    // -e: nginx opens its error log before reading the config; keep even that one in our folder.
    const child = startProcess(nginxPath ?? 'nginx', ['-p', layout.dir, '-c', layout.configPath, '-e', join(layout.dir, 'error.log')], {
      label: 'nginx',
      core: SERVER_CORE,
      timeoutMs: SERVER_LIFETIME_MS,
    });
    const stderrTail = captureStderrTail(child);
    child.stdout!.resume();
    const exitedEarly = new Promise<never>((_resolve, reject) =>
      child.once('exit', (code) => reject(new Error(`nginx exited (code ${code}) at start: ${stderrTail()}`))),
    );
    exitedEarly.catch(() => {});
    await Promise.race([waitUntilAccepting(port, SERVER_START_TIMEOUT_MS), exitedEarly]);
    const baseUrl = `http://127.0.0.1:${port}`;
    return {
      pid: child.pid!,
      upload: (payload) => ({
        method: 'PUT',
        urls: [`${baseUrl}/upload/{n}.pdf`],
        body: { kind: 'raw', payloadPath: payload.path },
        success: 'http-2xx',
      }),
      async prepareDownload(payload) {
        copyFileSync(payload.path, join(layout.staticDir, payload.fileName));
        return { method: 'GET', urls: [`${baseUrl}/static/${payload.fileName}`], body: { kind: 'none' }, success: 'http-2xx', expectedResponseBytes: payload.size };
      },
      countStored: (payload) => countPayloadFiles(layout.uploadDir, payload),
      stop: () => stopProcess(child),
    };
  },
};
