import { readFileSync, readdirSync } from 'node:fs';
const dir = '/tmp/prof';
const file = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).map(f => `${dir}/${f}`).sort().at(-1);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const counts = new Map();
p.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const agg = new Map();
for (const [id, t] of counts) { const n = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace('file:///work/main/', '')}:${n.callFrame.lineNumber}`; agg.set(k, (agg.get(k) ?? 0) + t); }
console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) => `${(v / 1000).toFixed(0)}ms ${k}`).join('\n'));
