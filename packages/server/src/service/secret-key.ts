// The key tokens are derived from: from config (shared by all nodes of a cluster) or generated once
// into the data folder, outside the database, so a leaked database does not leak tokens.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FOLDER_MODE } from '../data-folder.ts';

/** The configured key, else the one in `path` (the data folder's secret.key), made on first use. */
export async function loadSecretKey(configured: string | undefined, path: string): Promise<Buffer> {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: FOLDER_MODE });
  const key = randomBytes(32);
  try {
    await writeFile(path, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    // Another process (the CLI, a second start) wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
    throw error;
  }
}
