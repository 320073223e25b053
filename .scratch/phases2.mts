import { performance } from 'node:perf_hooks';
const { startEmulator } = await import('/work/main/packages/server/src/emulator/index.ts');
for (let i = 0; i < 8; i++) {
  const a = performance.now();
  const emu = await startEmulator({ seed: 1 });
  const b = performance.now();
  await emu.close();
  console.log((b - a).toFixed(1));
}
