import { readFileSync, readdirSync } from 'node:fs';
const dir = '/tmp/prof';
const file = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).map(f => `${dir}/${f}`).sort().at(-1);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const self = new Map();
const dt = p.timeDeltas; 
const counts = new Map();
p.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
const agg = new Map();
for (const [id, t] of counts) {
  const n = byId.get(id); const url = n.callFrame.url.replace(/.*node_modules\//, '').split('/').slice(0, 2).join('/') || n.callFrame.functionName || '(native)';
  agg.set(url, (agg.get(url) ?? 0) + t);
}
console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${(v / 1000).toFixed(0)}ms ${k}`).join('\n'));
