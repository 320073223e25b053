// Zip bombs for the spoofing tests: a valid OOXML package plus one entry that inflates to
// `inflatedBytes` of zeros from a few hundred KiB, deflated in a stream (never held inflated).

import { createDeflateRaw, crc32 } from 'node:zlib';
import type { ZipEntry } from '../../fixtures/zip-writer.ts';

interface RawEntry {
  name: string;
  method: 0 | 8;
  data: Buffer;
  crc: number;
  inflatedSize: number;
}

/** `inflatedBytes` zeros, deflated (raw), with their CRC-32. */
export async function deflatedZeros(inflatedBytes: number): Promise<{ data: Buffer; crc: number }> {
  const chunk = Buffer.alloc(1024 * 1024);
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (d: Buffer) => out.push(d));
  const done = new Promise((resolve, reject) => { deflate.on('end', resolve); deflate.on('error', reject); });
  let crc = 0;
  for (let left = inflatedBytes; left > 0; left -= chunk.length) {
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    crc = crc32(piece, crc);
    if (!deflate.write(piece)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  return { data: Buffer.concat(out), crc };
}

function stored(entry: ZipEntry): RawEntry {
  return { name: entry.name, method: 0, data: entry.data, crc: crc32(entry.data), inflatedSize: entry.data.length };
}

/** A zip of `parts` (stored) and `bomb` entries (deflated), local headers then the central directory. */
export function zipWithBombs(parts: ZipEntry[], bombs: { name: string; data: Buffer; crc: number; inflatedSize: number }[]): Buffer {
  const entries: RawEntry[] = [
    ...parts.filter((p) => !bombs.some((b) => b.name === p.name)).map(stored),
    ...bombs.map((b) => ({ ...b, method: 8 as const })),
  ];
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.inflatedSize, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, e.data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(e.method, 10);
    central.writeUInt32LE(e.crc >>> 0, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.inflatedSize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const size = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}
