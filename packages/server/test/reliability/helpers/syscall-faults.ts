// The syscall-faults drill's injector: builds syscall-fault-shim.c with gcc (once per run, into
// .tmp/), and arms it in a running server through its control file: "fail the Nth fsync / write /
// rename / open of a file under this folder with this errno". Each arming is a new generation, so
// the count starts over; the shim's log says which calls matched and which one failed.

import { execFileSync } from 'node:child_process';
import { constants } from 'node:os';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SHIM_SOURCE = fileURLToPath(new URL('./syscall-fault-shim.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('../../../../../.tmp/syscall-faults/', import.meta.url));

export type SyscallFamily = 'fsync' | 'write' | 'rename' | 'open';
export type InjectedErrno = 'EIO' | 'ENOSPC' | 'EMFILE';

/** gcc's absence, in words; null when it is there. */
export function missingCompiler(): string | null {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'pipe' });
    return null;
  } catch {
    return 'gcc not found (the drill builds its LD_PRELOAD injector; .ci/run installs gcc and libc6-dev)';
  }
}

/** Compiles the shim; returns the shared object's path. */
export async function buildShim(): Promise<string> {
  await mkdir(BUILD_DIR, { recursive: true });
  const out = join(BUILD_DIR, `syscall-fault-shim-${process.pid}.so`);
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', out, SHIM_SOURCE, '-ldl', '-lpthread'], { stdio: 'pipe' });
  return out;
}

/** One call the armed shim saw (log line "<generation> <n> <family> <function> <fd> <injected> <path>"). */
export interface MatchedCall {
  n: number;
  family: SyscallFamily;
  fn: string;
  fd: number;
  injected: boolean;
  path: string;
}

export class SyscallInjector {
  readonly controlPath: string;
  readonly logPath: string;
  readonly shimPath: string;
  #generation = 0;

  private constructor(shimPath: string, dir: string) {
    this.shimPath = shimPath;
    this.controlPath = join(dir, 'control');
    this.logPath = join(dir, 'calls.log');
  }

  static async create(dir: string): Promise<SyscallInjector> {
    await mkdir(dir, { recursive: true });
    return new SyscallInjector(await buildShim(), dir);
  }

  /** The environment that loads the shim into a process (disarmed until arm()). */
  get env(): Record<string, string> {
    return { LD_PRELOAD: this.shimPath, SYSCALL_FAULT_CONTROL: this.controlPath, SYSCALL_FAULT_LOG: this.logPath };
  }

  /** From now on, the `nth` call of `family` on a file under `prefix` fails with `errno`; 0: none fails (calls are only logged). */
  async arm(family: SyscallFamily, errno: InjectedErrno, nth: number, prefix: string): Promise<number> {
    this.#generation++;
    // A new file, then a rename: the shim never reads a half-written control line.
    const next = `${this.controlPath}.next`;
    await writeFile(next, `${this.#generation} ${family} ${constants.errno[errno]} ${nth} ${prefix}\n`);
    await rename(next, this.controlPath);
    return this.#generation;
  }

  async disarm(): Promise<void> {
    await rm(this.controlPath, { force: true });
  }

  /** The calls the shim matched while `generation` was armed, in order. */
  async calls(generation: number): Promise<MatchedCall[]> {
    const text = await readFile(this.logPath, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((line) => line.split(' ')).filter((f) => Number(f[0]) === generation).map((f) => ({
      n: Number(f[1]),
      family: f[2] as SyscallFamily,
      fn: f[3]!,
      fd: Number(f[4]),
      injected: f[5] === '1',
      path: f.slice(6).join(' '),
    }));
  }
}
