// A one-line transfer progress bar for a terminal: bytes, percentage, rate and ETA.
// Only drawn when both stdout and stderr are terminals (nothing when either is piped).

export interface TerminalStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const REDRAW_INTERVAL_MS = 100;

export class ProgressBar {
  readonly #out: TerminalStream;
  readonly #label: string;
  readonly #now: () => number;
  readonly #startedAt: number;
  #lastDrawAt = -Infinity;
  #drawn = false;
  /** The latest update not drawn yet (skipped by the redraw limit), to be drawn by finish(). */
  #pending: { loaded: number; total: number | undefined } | undefined;

  constructor(out: TerminalStream, label: string, now: () => number = () => performance.now()) {
    this.#out = out;
    this.#label = label;
    this.#now = now;
    this.#startedAt = now();
  }

  /** Redraws at most ten times a second, and always when the transfer is complete. */
  update(loaded: number, total: number | undefined): void {
    const now = this.#now();
    const complete = total !== undefined && loaded >= total;
    if (!complete && now - this.#lastDrawAt < REDRAW_INTERVAL_MS) {
      this.#pending = { loaded, total };
      return;
    }
    this.#draw(loaded, total, now);
  }

  /**
   * Draws the last update if the redraw limit skipped it (a stream of unknown size is never
   * "complete", so its end would otherwise show a frame from up to 100 ms before), then ends
   * the line so that what follows starts on a fresh one.
   */
  finish(): void {
    if (this.#pending) this.#draw(this.#pending.loaded, this.#pending.total, this.#now());
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }

  #draw(loaded: number, total: number | undefined, now: number): void {
    this.#lastDrawAt = now;
    this.#pending = undefined;
    const line = progressLine(this.#label, loaded, total, (now - this.#startedAt) / 1000, this.#out.columns || 80);
    this.#out.write(`\r${line}\x1b[K`);
    this.#drawn = true;
  }
}

export function shouldDrawProgress(stdout: TerminalStream, stderr: TerminalStream): boolean {
  return stdout.isTTY === true && stderr.isTTY === true;
}

export function progressLine(label: string, loaded: number, total: number | undefined, elapsedSeconds: number, columns: number): string {
  const rate = elapsedSeconds > 0 ? loaded / elapsedSeconds : 0;
  const amount = total === undefined ? formatBytes(loaded) : `${formatBytes(loaded)}/${formatBytes(total)}`;
  const eta = total !== undefined && rate > 0 ? ` ETA ${formatDuration((total - loaded) / rate)}` : '';
  const stats = ` ${amount} ${formatBytes(rate)}/s${eta}`;
  if (total === undefined || total === 0) return `${label}${stats}`.slice(0, columns - 1);
  const fraction = Math.min(1, loaded / total);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const room = columns - 1 - label.length - stats.length - percent.length - 4;
  const width = Math.max(0, Math.min(30, room));
  const bar = width > 0 ? ` [${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}]` : '';
  return `${label}${bar} ${percent}${stats}`.slice(0, columns - 1);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
