// The oapi-media emulator (the real server, in memory, with a journal, faults and a clock) as the
// DingTalk the client's tests talk to, through its well-known DingTalk app.
import { createHash } from 'node:crypto';
import { createClient, type ClientOptions } from '../../src/index.ts';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../../server/src/emulator/index.ts';
import type { MediaSummary } from '../../../server/src/service/admin.ts';

export { startEmulator, type Emulator };

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Runs `run` against a fresh emulator, closed afterwards whatever happens. */
export async function withEmulator(run: (emu: Emulator) => Promise<void>, options: EmulatorOptions = {}): Promise<void> {
  const emu = await startEmulator({ seed: 1, ...options });
  try {
    await run(emu);
  } finally {
    await emu.close();
  }
}

/** A client of the emulator's well-known DingTalk app. */
export function clientOf(emu: Emulator, options: Partial<ClientOptions> = {}) {
  const { appkey, appsecret } = emu.credentials.dingtalk;
  return createClient({ baseUrl: emu.baseUrl, appKey: appkey, appSecret: appsecret, ...options });
}

/** Requests the emulator received on `path`, answered or not. */
export const callsTo = (emu: Emulator, path: string): number => emu.requests.list({ path }).length;

/** The media the emulator holds for the well-known app's organization, as it stored them (size, sha256, file name). */
export async function storedMedia(emu: Emulator): Promise<MediaSummary[]> {
  return emu.services.admin.listMedia(emu.credentials.dingtalk.org, 1000);
}

/** Resolves once `count` requests to `path` have reached the emulator (their headers, at least). */
export async function requestsArrived(emu: Emulator, path: string, count = 1): Promise<void> {
  while (callsTo(emu, path) < count) await new Promise((resolve) => setTimeout(resolve, 5));
}
