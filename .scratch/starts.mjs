const { startEmulator } = await import('/work/main/packages/server/dist/emulator.js');
const times = [];
for (let i = 0; i < 30; i++) {
  const a = performance.now();
  const emu = await startEmulator({ seed: 1 });
  times.push(performance.now() - a);
  await emu.close();
}
console.log(times.map(t => t.toFixed(0)).join(' '));
