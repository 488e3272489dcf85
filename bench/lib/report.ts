import fs from 'node:fs';
import path from 'node:path';

export interface Figure {
  /** Figure number and short name, e.g. "1 append c16 single". */
  name: string;
  unit: string;
  ours: number;
  /** The reference measured in the same run: a ceiling (what the hardware allows) or a peer. */
  reference?: { label: string; value: number };
  peer?: { label: string; value: number };
  /** Target ratio ours/reference (≥) or, for latency-like units, a description. */
  target?: string;
  met?: boolean;
  extra?: Record<string, number | string>;
}

export interface BenchRun {
  startedAt: string;
  quick: boolean;
  machine: { cpus: number; node: string; totalMemoryGiB: number };
  figures: Figure[];
  /** Wall-clock time of the whole run. */
  seconds?: number;
}

export function ratio(a: number, b: number | undefined): string {
  if (!b) return '—';
  return (a / b).toFixed(2);
}

function fmt(n: number): string {
  if (n >= 1000) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function printTable(figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.ours)} ${f.unit}`,
    f.reference ? `${f.reference.label} ${fmt(f.reference.value)}` : '',
    f.reference ? ratio(f.ours, f.reference.value) : '',
    f.peer ? `${f.peer.label} ${fmt(f.peer.value)}` : '',
    f.peer ? ratio(f.ours, f.peer.value) : '',
    f.target ?? '',
    f.met === undefined ? '' : f.met ? 'met' : 'MISSED',
  ]);
  const header = ['figure', 'ours', 'ceiling/reference', 'ratio', 'peer', 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) console.log(line(row));
}

export function writeResults(run: BenchRun): string {
  const dir = path.join(__dirname, '..', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${run.startedAt.replace(/[:.]/g, '-')}${run.quick ? '-quick' : ''}.json`);
  fs.writeFileSync(file, JSON.stringify(run, null, 2));
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(run, null, 2));
  return file;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 50);
}
