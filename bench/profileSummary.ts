// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by package, and the
// inclusive time of frames matching an optional filter. `tsx bench/profileSummary.ts <file> [top] [filter]`
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.includes('/src/')) return `src/${url.split('/src/')[1]}`;
  if (url.startsWith('node:')) return url;
  return url || '(native)';
}

function main(): void {
  const [file, topArg, filter] = process.argv.slice(2);
  if (!file) throw new Error('usage: profileSummary <file.cpuprofile> [top] [filter]');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const top = Number(topArg ?? 30);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const fnSelf = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
    const pkg = n.callFrame.url
      ? where(n.callFrame.url)
          .split(':')[0]!
          .replace(/^src\/.*/, (s) => s)
      : n.callFrame.functionName;
    pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + us);
    if (filter) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)!;
        const k = `${f.callFrame.functionName || '(anonymous)'} ${where(f.callFrame.url)}:${f.callFrame.lineNumber + 1}`;
        if (!k.includes(filter) || seen.has(k)) continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + us);
      }
    }
  }
  const print = (title: string, map: Map<string, number>): void => {
    console.log(`\n${title}`);
    for (const [k, us] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
    }
  };
  console.log(`total ${(total / 1e6).toFixed(1)} s sampled`);
  print('self time by package/file', pkgSelf);
  print('self time by function', fnSelf);
  if (filter) print(`inclusive time of frames matching "${filter}"`, inclusive);
}

main();
