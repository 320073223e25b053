// Hostile input that is well-formed: polyglots and zip bombs (refused, or stored inert and served
// as an attachment with nosniff, never decompressed), and file names built to escape a folder or
// inject into Content-Disposition (stored safely, echoed as one safe header line).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ooxmlParts, sampleOfSize, spoofs } from '../fixtures/samples.ts';
import { downloadUrl, sha256, tokenOf, upload } from '../helpers/e2e-http.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { auditDataFolder } from './helpers/data-audit.ts';
import { recordFigures } from './helpers/figures.ts';
import { MiB } from './helpers/process-probe.ts';
import { deflatedZeros, zipWithBombs } from './helpers/zip-bomb.ts';

let server: TestServer;
let token: string;
before(async () => {
  server = await startTestServer();
  token = await tokenOf(server);
});
after(async () => server?.close());

interface RawDownload {
  status: number;
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A download with the headers exactly as sent (rawHeaders: repeated or split lines show). */
function rawDownload(mediaId: string): Promise<RawDownload> {
  return new Promise((resolve, reject) => {
    get(downloadUrl(server.baseUrl, token, mediaId), (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

function assertInertAttachment(download: RawDownload, contentType: string): void {
  assert.equal(download.status, 200);
  assert.equal(download.headers['x-content-type-options'], 'nosniff');
  assert.equal(download.headers['content-type'], contentType);
  assert.match(String(download.headers['content-disposition']), /^attachment; /);
}

test('a GIF that is also HTML/JS: stored as image/gif and served as an attachment with nosniff; as .html or type=file refused', async () => {
  const polyglot = spoofs.gifHtmlPolyglot;
  const stored = await upload(server.baseUrl, token, 'image', polyglot, 'cat.gif');
  assert.equal(stored.errcode, 0);
  const download = await rawDownload(stored.media_id!);
  assertInertAttachment(download, 'image/gif');
  assert.equal(sha256(download.body), sha256(polyglot));
  const refused = [
    (await upload(server.baseUrl, token, 'image', polyglot, 'cat.html')).errcode,
    (await upload(server.baseUrl, token, 'file', polyglot, 'cat.gif')).errcode,
    (await upload(server.baseUrl, token, 'image', spoofs.html, 'page.png')).errcode,
    (await upload(server.baseUrl, token, 'file', spoofs.exe, 'setup.pdf')).errcode,
    (await upload(server.baseUrl, token, 'image', spoofs.text, 'words.bmp')).errcode,
  ];
  assert.deepEqual(refused, [40005, 40005, 40005, 40005, 40005]);
  await recordFigures({
    id: 'hostile/polyglot-and-spoofs', section: 'Hostile input', title: 'polyglot GIF/HTML and content that does not match its name or type', variant: 'default',
    summary: `GIF+HTML polyglot as cat.gif -> stored, served image/gif + nosniff + attachment, same sha256; as .html, as type=file, ` +
      `HTML named .png, EXE named .pdf, text named .bmp -> ${refused.join(', ')}`,
    figures: { polyglotStored: true, refused: refused.join(' ') },
  });
});

test('zip bombs named .docx: a 1 GiB entry is stored inert (never inflated), a bombed [Content_Types].xml is refused', { timeout: 120_000 }, async () => {
  const inflated = 1024 * MiB;
  const zeros = await deflatedZeros(inflated);
  const bigEntry = zipWithBombs(ooxmlParts.docx(), [{ name: 'word/media/bomb.bin', ...zeros, inflatedSize: inflated }]);
  const bombedTypes = zipWithBombs(ooxmlParts.docx(), [{ name: '[Content_Types].xml', ...zeros, inflatedSize: inflated }]);

  const rssBefore = process.memoryUsage().rss;
  let started = performance.now();
  const stored = await upload(server.baseUrl, token, 'file', bigEntry, 'report.docx');
  const storedMs = performance.now() - started;
  started = performance.now();
  const refused = await upload(server.baseUrl, token, 'file', bombedTypes, 'report.docx');
  const refusedMs = performance.now() - started;
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  assert.equal(stored.errcode, 0, 'a docx with a huge media entry is a docx');
  assert.equal(refused.errcode, 40005, 'its [Content_Types].xml cannot be read within 1 MiB: not a docx');
  const download = await rawDownload(stored.media_id!);
  assertInertAttachment(download, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
  assert.equal(download.body.length, bigEntry.length, 'served as stored, not inflated');
  assert.equal(sha256(download.body), sha256(bigEntry));
  assert.ok(rssGrowth < 128 * MiB, `memory grew ${(rssGrowth / MiB).toFixed(0)} MiB for 2 GiB of inflatable content`);
  await recordFigures({
    id: 'hostile/zip-bomb', section: 'Hostile input', title: 'zip bombs named .docx', variant: 'default',
    summary: `${(bigEntry.length / 1024).toFixed(0)} KiB docx whose media entry inflates to 1 GiB -> stored in ${storedMs.toFixed(0)} ms, ` +
      `downloaded byte-identical (${(bigEntry.length / 1024).toFixed(0)} KiB, attachment, nosniff); [Content_Types].xml inflating to 1 GiB -> 40005 in ` +
      `${refusedMs.toFixed(0)} ms; server RSS +${(Math.max(0, rssGrowth) / MiB).toFixed(0)} MiB`,
    figures: { bombBytes: bigEntry.length, inflatedBytes: inflated, storedMs: Math.round(storedMs), refusedMs: Math.round(refusedMs), rssGrowthBytes: rssGrowth },
  });
});

/** Names as sent (RFC 5987 filename*, so that any byte can be carried), all of a real PNG. */
const HOSTILE_NAMES: Record<string, string> = {
  'path traversal': '../../etc/passwd.png',
  'absolute path': '/etc/oapi-media-evil.png',
  'Windows path with backslashes': 'C:\\Windows\\System32\\..\\..\\evil.png',
  'NUL byte': 'innocent\u0000.exe.png',
  'CR/LF header injection': 'a\r\nSet-Cookie: stolen=1\r\nX-Injected: 1\r\n.png',
  'quote injection': 'x"; filename="evil.exe".png',
  'backslash-quote': 'x\\"; filename*=UTF-8\'\'evil.exe.png',
  '10 KB name': `${'n'.repeat(10 * 1024)}.png`,
  'Chinese (non-ASCII)': '季度报告 2026.png',
  'Arabic (RTL)': 'تقرير الربع.png',
  'RTL override disguising the extension': 'invoice\u202Egnp.exe\u202C.png',
  'percent and emoji': '100% 😀 %00%2e%2e.png',
};
const PNG = sampleOfSize('png', 2048);

test('hostile file names: stored without path, control or bidi characters, ≤ 255 bytes; echoed in one safe Content-Disposition line', async () => {
  const stored: string[] = [];
  for (const [what, name] of Object.entries(HOSTILE_NAMES)) {
    const { contentType, body } = rfc5987Form(name);
    const response = await fetch(`${server.baseUrl}/media/upload?access_token=${token}&type=image`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) });
    const answer = (await response.json()) as { errcode: number; media_id?: string };
    assert.equal(answer.errcode, 0, `${what}: ${JSON.stringify(answer)}`);
    const row = (await server.server.services.metadata.getMedia(answer.media_id!))!;
    stored.push(row.fileName);
    assert.doesNotMatch(row.fileName, /[/\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u, `${what}: stored ${JSON.stringify(row.fileName)}`);
    assert.ok(Buffer.byteLength(row.fileName) <= 255, `${what}: ${Buffer.byteLength(row.fileName)} bytes`);
    assert.match(row.fileName, /\.png$/, `${what}: keeps its extension`);

    const download = await rawDownload(answer.media_id!);
    assertInertAttachment(download, 'image/png');
    const dispositions = download.rawHeaders.filter((_, i) => i % 2 === 0 && download.rawHeaders[i]!.toLowerCase() === 'content-disposition');
    assert.equal(dispositions.length, 1, `${what}: one Content-Disposition`);
    const disposition = String(download.headers['content-disposition']);
    assert.match(disposition, /^attachment; filename="[\x20-\x21\x23-\x5b\x5d-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9!%._~-]+$/, `${what}: ${disposition}`);
    assert.equal(decodeURIComponent(disposition.slice(disposition.lastIndexOf("filename*=UTF-8''") + 17)), row.fileName, `${what}: filename* is the stored name`);
    assert.equal(download.headers['set-cookie'], undefined);
    assert.equal(download.headers['x-injected'], undefined);
    assert.equal(sha256(download.body), sha256(PNG));
  }
  assert.equal(stored[HOSTILE_NAMES_INDEX('Arabic (RTL)')], 'تقرير الربع.png', 'RTL letters are kept');
  assert.equal(stored[HOSTILE_NAMES_INDEX('Chinese (non-ASCII)')], '季度报告 2026.png');
  assert.equal(stored[HOSTILE_NAMES_INDEX('path traversal')], 'passwd.png');
  assert.equal(stored[HOSTILE_NAMES_INDEX('RTL override disguising the extension')], 'invoicegnp.exe.png', 'bidi controls removed: it reads as what it is');

  // Nothing was written where a name pointed.
  assert.equal(existsSync('/etc/oapi-media-evil.png'), false);
  const everything = await walk(server.dataDir);
  assert.deepEqual(everything.filter((p) => /passwd|evil|innocent|invoice/.test(p)), []);
  const audit = await auditDataFolder(server.dataDir);
  assert.deepEqual([audit.orphans.length, audit.staged.length], [0, 0]);
  await recordFigures({
    id: 'hostile/file-names', section: 'Hostile input', title: 'hostile file names (traversal, absolute, backslashes, NUL, CR/LF and quote injection, 10 KB, non-ASCII, RTL, bidi override)', variant: 'default',
    summary: `${Object.keys(HOSTILE_NAMES).length} names -> stored without path/control/bidi characters, ≤ 255 bytes (10 KB name -> ${Buffer.byteLength(stored[HOSTILE_NAMES_INDEX('10 KB name')]!)} B); ` +
      `each download has exactly 1 Content-Disposition line (ASCII fallback + RFC 5987 filename*), no injected header; 0 files outside DATA/blobs`,
    figures: { names: Object.keys(HOSTILE_NAMES).length, storedNames: JSON.stringify(stored.map((s) => (s.length > 40 ? `${s.slice(0, 20)}…(${s.length})` : s))) },
  });
});

function HOSTILE_NAMES_INDEX(what: string): number {
  return Object.keys(HOSTILE_NAMES).indexOf(what);
}

function rfc5987Form(name: string): { contentType: string; body: Buffer } {
  const boundary = 'hostileNameBoundary7f3a';
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename*=UTF-8''${encoded}\r\nContent-Type: image/png\r\n\r\n`;
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat([Buffer.from(head), PNG, Buffer.from(`\r\n--${boundary}--\r\n`)]) };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...(await walk(path)));
  }
  return out;
}

