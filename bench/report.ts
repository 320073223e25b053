// The one table of a run: each target's figures per scenario, and oapi-media's ratio to each
// peer measured in the same run on that scenario's main figure; then the goals with ✓/✗.

import type { GoalVerdict } from './goals.ts';
import { verdictMark } from './goals.ts';
import { judgedFigure, type Measurement } from './measure.ts';
import type { Target } from './target.ts';

const MB = 1e6;

const mainFigure = judgedFigure;

function ratioCell(m: Measurement, all: Measurement[]): string {
  const figure = mainFigure(m);
  if (!figure) return '';
  if (m.scenario === 'e') {
    const base = all
      .filter((o) => o.scenario === 'e' && o.direction === m.direction && o.load)
      .sort((a, b) => a.rowsSeeded! - b.rowsSeeded!)[0];
    if (!base || base === m) return 'baseline';
    return `${(figure.value / mainFigure(base)!.value).toFixed(2)}× of ${base.rowsSeeded} rows`;
  }
  if (m.scenario === 'f') return largeFileRatioCell(m, all);
  if (m.target === 'oapi-media') return '—';
  // The product on another wire: its figure as a fraction of the DingTalk wire's (issue 16).
  if (m.target.startsWith('oapi-media-')) {
    const dingtalk = all.find((o) => o.step === m.step && o.target === 'oapi-media' && o.load);
    if (!dingtalk) return 'n/a';
    const ratio = figure.value / mainFigure(dingtalk)!.value;
    return `${ratio.toFixed(2)}× of DingTalk ${figure.name}`;
  }
  const ours = all.find((o) => o.step === m.step && o.target === 'oapi-media' && o.load);
  if (!ours) return 'n/a';
  return `${(mainFigure(ours)!.value / figure.value).toFixed(2)}× ${figure.name}`;
}

/** Scenario f: oapi-media's tus against the tus reference server; the DingTalk chunked upload against oapi-media's tus. */
function largeFileRatioCell(m: Measurement, all: Measurement[]): string {
  if (m.target === 'oapi-media-tus') return '—';
  const tus = all.find((o) => o.step === m.step && o.target === 'oapi-media-tus' && o.load);
  if (!tus) return 'n/a';
  const ours = mainFigure(tus)!.value;
  const theirs = mainFigure(m)!.value;
  return m.target === 'oapi-media-chunked' ? `${(theirs / ours).toFixed(2)}× of tus MB/s` : `${(ours / theirs).toFixed(2)}× MB/s`;
}

function storedCell(m: Measurement): string {
  if (!m.stored) return m.direction === 'download' ? 'n/a (GET)' : m.load ? 'n/a (discards)' : '';
  const mark = m.stored.files >= m.stored.expectedFiles ? 'ok' : 'LESS';
  return `${mark} ${m.stored.files}/${m.stored.expectedFiles}`;
}

function fmt(value: number | undefined, digits = 1): string {
  return value === undefined ? '' : value.toFixed(digits);
}

function row(m: Measurement, all: Measurement[]): string[] {
  const name = m.failures.length ? `${m.target} FAILED` : m.target;
  if (m.skipped) return [m.step, m.target, 'skipped', '', '', '', '', '', '', '', ''];
  const load = m.load;
  return [
    m.step,
    name,
    fmt(load?.megabytesPerSecond),
    fmt(load?.requestsPerSecond),
    fmt(load?.latencyMs.p50),
    fmt(load?.latencyMs.p99),
    m.peakRssBytes === undefined ? '' : fmt(m.peakRssBytes / MB),
    m.serverCpuPercent === undefined ? '' : fmt(m.serverCpuPercent, 0),
    load ? `${load.failed}/${load.requests}` : 'did not run',
    storedCell(m),
    ratioCell(m, all),
  ];
}

const HEADER = ['scenario', 'target', 'MB/s', 'req/s', 'p50 ms', 'p99 ms', 'peak RSS MB', 'CPU %', 'errors', 'stored', 'oapi-media ÷ target'];
const RIGHT_ALIGNED = new Set([2, 3, 4, 5, 6, 7, 8]);

/** A Markdown table (readable in a terminal, pastable into a README). */
export function renderTable(measurements: Measurement[]): string {
  const rows = [HEADER, ...measurements.map((m) => row(m, measurements))];
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => [...r[c]!].length)));
  const pad = (cell: string, c: number) => {
    const fill = ' '.repeat(widths[c]! - [...cell].length);
    return RIGHT_ALIGNED.has(c) ? fill + cell : cell + fill;
  };
  const line = (r: string[]) => `| ${r.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (RIGHT_ALIGNED.has(c) ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

export function renderReport(measurements: Measurement[], goals: GoalVerdict[], targets: Pick<Target, 'name' | 'description'>[], unavailable: Map<string, string>): string {
  const out: string[] = [];
  out.push(renderTable(measurements));
  const failures = measurements.filter((m) => m.failures.length > 0);
  if (failures.length) {
    out.push('', 'FAILED measurements (not to be trusted):');
    for (const m of failures) out.push(`  ${m.step} ${m.target}: ${m.failures.join('; ')}`);
  }
  const repeated = measurements.filter((m) => m.rounds);
  if (repeated.length) {
    out.push('', 'Rounds (--repeat; each row above is its target\'s median round):');
    for (const m of repeated) {
      const cpu = m.roundCpuMsPerRequest ? `; server CPU per request ${m.roundCpuMsPerRequest.map((v) => v.toFixed(2)).join(', ')} ms` : '';
      out.push(`  ${m.step} ${m.target}: ${m.rounds!.map((v) => v.toFixed(1)).join(', ')} ${mainFigure(m)?.name ?? ''}${cpu}`);
    }
  }
  const stored = measurements.filter((m) => m.stored);
  if (stored.length) {
    out.push('', 'What each target stored:');
    for (const m of stored) {
      out.push(`  ${m.step} ${m.target}: stored ${m.stored!.files} files / ${m.stored!.bytes} bytes, expected ≥ ${m.stored!.expectedFiles} / ${m.stored!.expectedBytes} acknowledged (${m.stored!.detail})`);
    }
  }
  out.push('', 'Goals (issues 6 and 16):');
  for (const g of goals) out.push(`  ${verdictMark(g.holds)} ${g.goal}: ${g.evidence}`);
  out.push('', 'Targets:');
  for (const t of targets) out.push(`  ${t.name}: ${unavailable.has(t.name) ? `SKIPPED — ${unavailable.get(t.name)}` : t.description}`);
  return out.join('\n');
}
