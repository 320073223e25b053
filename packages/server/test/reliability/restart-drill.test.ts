// Restarts as a supervisor makes them (issue 15, drill 1): kill -9, then an immediate start on the
// same data folder, before anyone has reaped the killed process; a stale server.pid naming a live,
// unrelated process; and a real second server, which must still be refused with a clear message.
// The servers are the bundle (what ships, and it starts in a fraction of tsx's time), built first
// unless npm test already built it (OAPI_MEDIA_PREBUILT=1).

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { count, recordFigures, type Variant } from './helpers/figures.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BUNDLE = join(REPO_ROOT, 'packages/server/dist/cli.js');
// The long variant (restart-drill.stress.ts) runs the same file with 200 rounds.
const ROUNDS = Number(process.env.OAPI_RESTART_ROUNDS ?? 50);
const VARIANT: Variant = process.env.OAPI_RESTART_VARIANT === 'stress' ? 'stress' : 'default';
const figures = { rounds: ROUNDS, refusals: 0, medianRestartMs: 0, maxRestartMs: 0, stalePidStart: false, secondRefused: false };

let dataDir: string;
const children: ChildProcess[] = [];

before(async () => {
  if (process.env.OAPI_MEDIA_PREBUILT !== '1') execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), 'server'], { stdio: 'inherit' });
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-restart-'));
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

interface Started { child: ChildProcess; url: string }

/** `oapi-media serve` of the bundle; resolves once it listens, rejects with its output if it exits. */
function serveBundle(): Promise<Started> {
  const child = spawn(process.execPath, [BUNDLE, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no listening line within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output)?.[0];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}):\n${output}`));
    });
  });
}

async function answersHealth(url: string): Promise<boolean> {
  const response = await fetch(`${url}/healthz`).catch(() => undefined);
  return response?.ok === true;
}

test(`${ROUNDS} rounds of kill -9 and an immediate start on the same folder: every start succeeds`, async () => {
  let current = await serveBundle();
  let refusals = 0;
  const failures: string[] = [];
  const restartMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    assert.ok(await answersHealth(current.url), `round ${round}: the server answers`);
    // No await between the kill and the next start: the killed process is not reaped yet.
    const killedAt = performance.now();
    current.child.kill('SIGKILL');
    try {
      current = await serveBundle();
      restartMs.push(performance.now() - killedAt);
    } catch (error) {
      refusals++;
      failures.push((error as Error).message.split('\n').slice(0, 3).join(' | '));
      current = await serveBundle(); // go on from a clean start, so every round is counted
    }
  }
  assert.ok(await answersHealth(current.url));
  current.child.kill('SIGTERM');
  await new Promise((resolve) => current.child.once('exit', resolve));
  assert.equal(refusals, 0, `refused starts:\n${failures.join('\n')}`);
  restartMs.sort((a, b) => a - b);
  figures.refusals = refusals;
  figures.medianRestartMs = Math.round(restartMs[Math.floor(restartMs.length / 2)]!);
  figures.maxRestartMs = Math.round(restartMs.at(-1)!);
});

test('a stale server.pid that names a live, unrelated process does not stop a start', async () => {
  // This test runner's own pid: alive, and not an oapi-media server (a reboot can hand out any pid).
  await writeFile(join(dataDir, 'server.pid'), `${process.pid}\n`);
  const started = await serveBundle();
  assert.ok(await answersHealth(started.url));
  figures.stalePidStart = true;
  started.child.kill('SIGTERM');
  await new Promise((resolve) => started.child.once('exit', resolve));
});

test('a second server on a folder a live server holds is refused, naming the holder', async () => {
  const first = await serveBundle();
  const second = await serveBundle().then(
    (started) => ({ refused: false as const, started }),
    (error: Error) => ({ refused: true as const, message: error.message }),
  );
  assert.equal(second.refused, true, 'the second server must not start');
  if (second.refused) {
    assert.match(second.message, new RegExp(`data folder .* is in use by another oapi-media server \\(pid ${first.child.pid}\\)`));
  }
  assert.ok(await answersHealth(first.url), 'the first server is untouched');
  figures.secondRefused = true;
  first.child.kill('SIGTERM');
  await new Promise((resolve) => first.child.once('exit', resolve));
  // Once the holder is gone, the folder is free again.
  const third = await serveBundle();
  assert.ok(await answersHealth(third.url));
  third.child.kill('SIGTERM');
  await new Promise((resolve) => third.child.once('exit', resolve));
});

test('record the drill', async (t) => {
  if (!figures.stalePidStart || !figures.secondRefused || figures.medianRestartMs === 0) return t.skip('an earlier drill failed: nothing to record');
  await recordFigures({
    id: 'faults/restart-after-kill-9',
    section: 'Faults',
    title: 'kill -9 then an immediate start on the same data folder (no sleep, the killed process not yet reaped); a stale server.pid naming a live unrelated process; a second server on a held folder',
    variant: VARIANT,
    summary: `${count(ROUNDS)} rounds -> ${count(ROUNDS)} starts, ${figures.refusals} refusals (kill to listening: median ${figures.medianRestartMs} ms, max ${figures.maxRestartMs} ms, the bundle); stale pid of a live process -> starts; second server -> refused naming the holder's pid, first untouched`,
    figures,
  });
});
