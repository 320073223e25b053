const { startEmulator } = await import('/work/main/packages/server/dist/emulator.js');
const emu = await startEmulator({ seed: 1 });
const { appkey, appsecret } = emu.credentials.dingtalk;
const tok = (await (await fetch(`${emu.baseUrl}/gettoken?appkey=${appkey}&appsecret=${appsecret}`)).json()).access_token;
const payload = Buffer.alloc(8192, 0x20); payload.write('%PDF-1.4\n', 0, 'latin1');
const t = { up: 0, down: 0 };
const cpu0 = process.cpuUsage();
const a = performance.now();
for (let i = 0; i < 300; i++) {
  const u0 = performance.now();
  const form = new FormData(); form.append('media', new Blob([payload]), 'a.pdf');
  const up = await (await fetch(`${emu.baseUrl}/media/upload?access_token=${tok}&type=file`, { method: 'POST', body: form })).json();
  const u1 = performance.now();
  await (await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${tok}&media_id=${encodeURIComponent(up.media_id)}`)).arrayBuffer();
  t.up += u1 - u0; t.down += performance.now() - u1;
}
const total = performance.now() - a; const cpu = process.cpuUsage(cpu0);
console.log(`per trip ${(total/300).toFixed(2)} ms: upload ${(t.up/300).toFixed(2)} download ${(t.down/300).toFixed(2)}; cpu ${((cpu.user+cpu.system)/1000/300).toFixed(2)} ms/trip`);
await emu.close();
