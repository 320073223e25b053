// api.md "POST /media/upload": the format is decided from the bytes, and the extension must agree.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import CFB from 'cfb';
import fc from 'fast-check';
import { DINGTALK_MEDIA_LIMITS } from '@oapi-media/core';
import type { MediaFormat } from '@oapi-media/core';
import { detectFormat } from '../src/formats/detect.ts';
import { formatAllowed } from '../src/formats/allowed.ts';
import {
  docxWithLeadingMedia, minimumSampleSize, ooxmlParts, sample, sampleOfSize, spoofs, writeSampleOfSize, writeZip,
  xlsWithEmbeddedDoc, writeCompoundFile,
} from './fixtures/samples.ts';

const ALL_FORMATS: readonly MediaFormat[] = Object.values(DINGTALK_MEDIA_LIMITS).flatMap((rule) => rule.formats);

let dir = '';
let counter = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oapi-formats-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function stage(bytes: Buffer, name = `file-${counter++}`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}
async function detect(bytes: Buffer): Promise<MediaFormat | null> {
  const path = await stage(bytes);
  try {
    return await detectFormat(path);
  } finally {
    await rm(path);
  }
}

const hasCommand = (command: string, args: string[]): boolean => spawnSync(command, args).status === 0;

/**
 * The streams at the root of a compound file, as an independent reader (SheetJS cfb) sees them;
 * throws unless cfb reads every stream whole (its chain of sectors as long as the size its entry declares).
 */
function cfbRootStreams(bytes: Buffer): string[] {
  const container = CFB.read(bytes, { type: 'buffer' });
  const streams = container.FileIndex.map((entry, i) => ({ entry, path: container.FullPaths[i]! })).filter(({ entry }) => entry.type === 2);
  assert.ok(streams.length > 0, 'cfb finds no stream');
  for (const { entry, path } of streams) {
    const read = entry.content?.length ?? 0;
    if (read !== entry.size) throw new assert.AssertionError({ message: `${entry.name}: cfb reads ${read} of its ${entry.size} bytes (${path})` });
  }
  return streams.filter(({ path }) => path.split('/').length === 2).map(({ entry }) => entry.name).sort();
}

describe('detectFormat: the samples', () => {
  test('there are 17 formats, as in api.md', () => {
    assert.equal(new Set(ALL_FORMATS).size, 17);
  });

  for (const format of ALL_FORMATS) {
    test(`a ${format} sample detects as ${format}`, async () => {
      assert.equal(await detect(sample(format)), format);
    });
  }

  // Third-party opinion that the samples are what they claim (libmagic parses CFB and zip too).
  const FILE_SAYS: Readonly<Record<MediaFormat, RegExp>> = {
    jpg: /^JPEG image data, JFIF.*baseline.*1x1/, gif: /^GIF image data, version 89a, 1 x 1/,
    png: /^PNG image data, 1 x 1/, bmp: /^PC bitmap.*1 x 1 x 24/, amr: /^Adaptive Multi-Rate/,
    mp3: /ID3 version 2\.3.*MPEG ADTS, layer III, v1, 128 kbps, 44\.1 kHz/, wav: /WAVE audio, Microsoft PCM/,
    mp4: /^ISO Media, MP4/, doc: /Microsoft Word/, xls: /Microsoft Excel/, ppt: /^Composite Document File V2/,
    docx: /^Microsoft Word 2007\+/, xlsx: /^Microsoft Excel 2007\+/, pptx: /^Microsoft PowerPoint 2007\+/,
    zip: /^Zip archive data/, pdf: /^PDF document, version 1\.4, 1 pages?/, rar: /^RAR archive data, v5/,
    webp: /Web\/P image/, ico: /^MS Windows icon resource - 1 icon, 1x1/, tiff: /^TIFF image data, little-endian.*height=1.*width=1/,
    heic: /^ISO Media, HEIF Image HEVC/, opus: /^Ogg data, Opus audio.*mono, 16000 Hz/,
  };
  test('the file(1) command agrees about every sample', { skip: !hasCommand('file', ['--version']) && 'file(1) not installed' }, async () => {
    for (const format of ALL_FORMATS) {
      const path = await stage(sample(format), `agree.${format}`);
      const said = spawnSync('file', ['--brief', path], { encoding: 'utf8' }).stdout.trim();
      assert.match(said, FILE_SAYS[format], `${format}: file(1) says "${said}"`);
    }
  });

  // Feishu's further formats (im/v1/images and the opus file_type): detected, and file(1) agrees.
  const FEISHU_ONLY_FORMATS = ['webp', 'ico', 'tiff', 'heic', 'opus'] as const;
  for (const format of FEISHU_ONLY_FORMATS) {
    test(`a ${format} sample detects as ${format}, also when larger`, async () => {
      assert.equal(await detect(sample(format)), format);
      assert.equal(await detect(sampleOfSize(format, 20_000)), format);
    });
  }
  test('the file(1) command agrees about Feishu\'s further samples', { skip: !hasCommand('file', ['--version']) && 'file(1) not installed' }, async () => {
    for (const format of FEISHU_ONLY_FORMATS) {
      const path = await stage(sample(format), `agree.${format}`);
      const said = spawnSync('file', ['--brief', path], { encoding: 'utf8' }).stdout.trim();
      assert.match(said, FILE_SAYS[format], `${format}: file(1) says "${said}"`);
    }
  });
  test('an ISO media file that is neither mp4 nor HEIF is no format (a QuickTime movie)', async () => {
    const quicktime = Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from('ftypqt  \0\0\0\0qt  ', 'latin1'), Buffer.alloc(64)]);
    assert.equal(await detect(quicktime), null);
  });

  test('unzip -t finds the zip samples intact', { skip: !hasCommand('unzip', ['-v']) && 'unzip not installed' }, async () => {
    for (const bytes of [sample('zip'), sample('docx'), sample('xlsx'), sample('pptx'), docxWithLeadingMedia(100_000), sampleOfSize('docx', 2_097_152)]) {
      const path = await stage(bytes, `intact-${counter++}.zip`);
      const result = spawnSync('unzip', ['-tq', path], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stdout + result.stderr);
    }
  });

  // SheetJS cfb (an npm devDependency, so it is always there: never skipped) reads our doc/xls/ppt samples.
  test('cfb reads the OLE samples, every chain included, and finds the main stream', { timeout: 30_000 }, () => {
    const cases: Array<[Buffer, string, number]> = [
      [sample('doc'), 'WordDocument', 0], [sample('xls'), 'Workbook', 0], [sample('ppt'), 'PowerPoint Document', 0],
      [sampleOfSize('doc', 20_971_521), 'WordDocument', 2], // 320 FAT sectors: two DIFAT sectors
    ];
    for (const [bytes, mainStream, difatSectors] of cases) {
      assert.ok(cfbRootStreams(bytes).includes(mainStream), `${mainStream} at the root`);
      // cfb follows the DIFAT: the 20 MiB stream above reads whole only if both DIFAT sectors are right.
      assert.equal(bytes.readUInt32LE(72), difatSectors, 'DIFAT sectors in the header');
    }
  });

  test('the cfb check fails on a corrupted sample (a chain cut short, a chain that loops, a lost DIFAT sector, a renamed main stream)', { timeout: 30_000 }, () => {
    const fatEntryOffset = (bytes: Buffer, sector: number): number => (bytes.readUInt32LE(76) + 1) * 512 + 4 * sector; // first FAT sector
    const mainStreamStart = (bytes: Buffer, name: string): number => CFB.find(CFB.read(bytes, { type: 'buffer' }), name)!.start;

    const cut = Buffer.from(sample('doc'));
    cut.writeUInt32LE(0xfffffffe, fatEntryOffset(cut, mainStreamStart(cut, 'WordDocument'))); // ENDOFCHAIN after one sector
    assert.throws(() => cfbRootStreams(cut), /WordDocument: cfb reads 512 of its 4396 bytes/);

    const looping = Buffer.from(sample('ppt'));
    const pptStart = mainStreamStart(looping, 'PowerPoint Document');
    looping.writeUInt32LE(pptStart, fatEntryOffset(looping, pptStart + 1)); // the second sector points back to the first
    assert.throws(() => cfbRootStreams(looping), /PowerPoint Document: cfb reads 1024 of its 5000 bytes/);

    const lostDifat = sampleOfSize('doc', 20_971_521);
    const firstDifat = lostDifat.readUInt32LE(68);
    lostDifat.writeUInt32LE(0xffffffff, (firstDifat + 1) * 512 + 508); // the first DIFAT sector no longer leads to the second
    assert.throws(() => cfbRootStreams(lostDifat), /WordDocument: cfb reads \d+ of its 20803584 bytes/);

    const renamed = Buffer.from(sample('xls'));
    const name = Buffer.from('Workbook', 'utf16le');
    const at = renamed.indexOf(name, (renamed.readUInt32LE(48) + 1) * 512); // in the directory
    renamed.write('Worxbook', at, 'utf16le');
    assert.ok(!cfbRootStreams(renamed).includes('Workbook'));
    assert.ok(cfbRootStreams(sample('xls')).includes('Workbook'));
  });
});

describe('detectFormat: samples of exact sizes', () => {
  const sizes = (format: MediaFormat): number[] => [
    minimumSampleSize(format), minimumSampleSize(format) + 1, minimumSampleSize(format) + 3,
    70_001, // past the 64 KiB a zip comment can hold
    2_097_152, // the voice limit
    20_971_521, // the image/video/file limit + 1
  ];
  for (const format of ALL_FORMATS) {
    test(`sampleOfSize(${format}) has the exact length and still detects as ${format}`, async () => {
      for (const size of sizes(format)) {
        const path = join(dir, `sized-${format}-${size}`);
        await writeSampleOfSize(format, size, path);
        assert.equal((await stat(path)).size, size);
        assert.equal(await detectFormat(path), format, `${format} of ${size} bytes`);
        await rm(path);
      }
    });
  }
  test('sampleOfSize refuses a size below the smallest valid file', () => {
    assert.throws(() => sampleOfSize('pdf', 10), RangeError);
  });
});

describe('detectFormat: what is not one of the 17 formats', () => {
  test('HTML, an exe, plain text and an empty file detect as null', async () => {
    assert.equal(await detect(spoofs.html), null);
    assert.equal(await detect(spoofs.exe), null);
    assert.equal(await detect(spoofs.text), null); // starts with "BM": not a bitmap header
    assert.equal(await detect(Buffer.alloc(0)), null);
    assert.equal(await detect(Buffer.from('GIF is a format\n')), null);
  });

  test('a GIF that carries a <script> in its comment is still a GIF (downloads are nosniff attachments)', async () => {
    assert.ok(spoofs.gifHtmlPolyglot.includes('<script>'));
    assert.equal(await detect(spoofs.gifHtmlPolyglot), 'gif');
  });

  test('truncated headers detect as null', async () => {
    assert.equal(await detect(sample('png').subarray(0, 10)), null);
    assert.equal(await detect(sample('bmp').subarray(0, 20)), null);
    assert.equal(await detect(sample('mp4').subarray(0, 20)), null); // ftyp box cut short
    assert.equal(await detect(sample('zip').subarray(0, 40)), null); // no central directory
    assert.equal(await detect(sample('docx').subarray(0, sample('docx').length - 10)), null);
    const mp3 = sample('mp3');
    assert.equal(await detect(mp3.subarray(0, 40)), null); // the ID3 tag claims more than the file has
  });

  test('ftyp brands: isom/mp42 are mp4; QuickTime, M4A, 3GPP and HEIF are not', async () => {
    const withBrands = (major: string, compatible: string): Buffer => {
      const bytes = Buffer.from(sample('mp4'));
      bytes.write(major, 8, 'latin1');
      bytes.write(compatible, 16, 'latin1');
      return bytes;
    };
    assert.equal(await detect(withBrands('mp42', 'isom')), 'mp4');
    assert.equal(await detect(withBrands('M4V ', 'M4V ')), 'mp4');
    assert.equal(await detect(withBrands('XYZW', 'mp42')), 'mp4'); // unknown major, mp4-compatible
    assert.equal(await detect(withBrands('qt  ', 'qt  ')), null);
    assert.equal(await detect(withBrands('M4A ', 'isom')), null);
    assert.equal(await detect(withBrands('3gp4', 'isom')), null);
    // Not mp4: a HEIF image, a format of its own since Feishu takes it (DingTalk's rules still refuse it).
    assert.equal(await detect(withBrands('heic', 'mif1')), 'heic');
  });

  test('an MP3 frame header with a reserved version or a bad bitrate is not mp3', async () => {
    const frameAt = sample('mp3').indexOf(Buffer.from([0xff, 0xfb]));
    const badVersion = Buffer.from(sample('mp3'));
    badVersion[frameAt + 1] = 0xeb; // version bits 01: reserved
    assert.equal(await detect(badVersion), null);
    const badBitrate = Buffer.from(sample('mp3'));
    badBitrate[frameAt + 2] = 0xf0; // bitrate index 15
    assert.equal(await detect(badBitrate), null);
  });
});

describe('detectFormat: zip and OOXML', () => {
  test('docx, xlsx, pptx and zip are told apart', async () => {
    const found = await Promise.all(['docx', 'xlsx', 'pptx', 'zip'].map((f) => detect(sample(f as MediaFormat))));
    assert.deepEqual(found, ['docx', 'xlsx', 'pptx', 'zip']);
  });

  test('a docx whose first entry is 3 MB of word/media is a docx', async () => {
    const bytes = docxWithLeadingMedia(3_000_000);
    assert.equal(bytes.indexOf('[Content_Types].xml') > 3_000_000, true);
    assert.equal(await detect(bytes), 'docx');
  });

  test('a zip holding word/document.xml but no [Content_Types].xml is a zip', async () => {
    const parts = ooxmlParts.docx().filter((part) => part.name !== '[Content_Types].xml');
    assert.equal(await detect(writeZip(parts)), 'zip');
  });

  test('a zip without _rels/.rels is a zip', async () => {
    assert.equal(await detect(writeZip(ooxmlParts.xlsx().filter((part) => part.name !== '_rels/.rels'))), 'zip');
  });

  test('[Content_Types].xml naming a main part the archive lacks is a zip', async () => {
    assert.equal(await detect(writeZip(ooxmlParts.pptx().filter((part) => part.name !== 'ppt/presentation.xml'))), 'zip');
  });

  test('a macro-enabled docm is not a docx', async () => {
    const parts = ooxmlParts.docx().map((part) => part.name !== '[Content_Types].xml' ? part : {
      ...part,
      data: Buffer.from(part.data.toString().replace(
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml',
        'application/vnd.ms-word.document.macroEnabled.main+xml',
      )),
    });
    assert.equal(await detect(writeZip(parts)), 'zip');
  });

  test('an empty zip archive is a zip', async () => {
    assert.equal(await detect(writeZip([])), 'zip');
  });

  test('a docx whose end record is in zip64 form is a docx', async () => {
    const docx = sample('docx');
    const end = docx.length - 22;
    const entries = docx.readUInt16LE(end + 10);
    const directorySize = docx.readUInt32LE(end + 12);
    const directoryOffset = docx.readUInt32LE(end + 16);
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(entries), 24);
    record.writeBigUInt64LE(BigInt(entries), 32);
    record.writeBigUInt64LE(BigInt(directorySize), 40);
    record.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(end), 8);
    locator.writeUInt32LE(1, 16);
    const endRecord = Buffer.from(docx.subarray(end));
    endRecord.writeUInt16LE(0xffff, 8);
    endRecord.writeUInt16LE(0xffff, 10);
    endRecord.writeUInt32LE(0xffffffff, 12);
    endRecord.writeUInt32LE(0xffffffff, 16);
    assert.equal(await detect(Buffer.concat([docx.subarray(0, end), record, locator, endRecord])), 'docx');
  });

  test('a corrupted docx never throws: property over random byte changes', { timeout: 60_000 }, async () => {
    const docx = sample('docx');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(docx.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        async (changes) => {
          const bytes = Buffer.from(docx);
          for (const [at, value] of changes) bytes[at] = value;
          const found = await detect(bytes);
          assert.ok(found === null || ALL_FORMATS.includes(found));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('detectFormat: OLE compound files', () => {
  test('doc, xls and ppt are told apart', async () => {
    const found = await Promise.all(['doc', 'xls', 'ppt'].map((f) => detect(sample(f as MediaFormat))));
    assert.deepEqual(found, ['doc', 'xls', 'ppt']);
  });

  test('the xls and ppt samples keep their directory after the data; the doc sample before it', () => {
    const firstDirectorySector = (bytes: Buffer): number => bytes.readUInt32LE(48);
    assert.equal(firstDirectorySector(sample('doc')) < 4, true);
    for (const format of ['xls', 'ppt'] as const) {
      const bytes = sample(format);
      assert.equal((firstDirectorySector(bytes) + 1) * 512 > bytes.length - 1536, true, format);
    }
  });

  test('an xls with an embedded Word document (a WordDocument stream in a sub-storage) is an xls', async () => {
    assert.equal(await detect(xlsWithEmbeddedDoc()), 'xls');
  });

  test('a compound file with none of the main streams (msi, msg, encrypted OOXML) is null', async () => {
    assert.equal(await detect(writeCompoundFile([
      { name: 'EncryptionInfo', data: Buffer.alloc(200) },
      { name: 'EncryptedPackage', data: Buffer.alloc(5000) },
    ])), null);
  });

  test('truncated compound files detect as null', async () => {
    const xls = sample('xls'); // directory at the end
    for (const length of [8, 511, 512, 1024, xls.length - 512]) {
      assert.equal(await detect(xls.subarray(0, length)), null, `cut at ${length}`);
    }
  });

  test('a directory chain that loops, or points past the file, detects as null', async () => {
    const looping = Buffer.from(sample('xls'));
    const directorySector = looping.readUInt32LE(48);
    const fatSector = looping.readUInt32LE(76);
    looping.writeUInt32LE(directorySector, (fatSector + 1) * 512 + 4 * directorySector);
    assert.equal(await detect(looping), null);

    const pastEnd = Buffer.from(sample('doc'));
    pastEnd.writeUInt32LE(0x00ffffff, 48);
    assert.equal(await detect(pastEnd), null);

    const absurdFat = Buffer.from(sample('doc'));
    absurdFat.writeUInt32LE(0xffffffff, 44);
    assert.equal(await detect(absurdFat), null);

    const badSectorShift = Buffer.from(sample('doc'));
    badSectorShift.writeUInt16LE(30, 30);
    assert.equal(await detect(badSectorShift), null);
  });

  test('a DIFAT chain that loops on itself ends (20 MiB file, two DIFAT sectors)', { timeout: 30_000 }, async () => {
    const bytes = sampleOfSize('ppt', 20_971_521);
    const firstDifat = bytes.readUInt32LE(68);
    bytes.writeUInt32LE(firstDifat, (firstDifat + 1) * 512 + 508); // next DIFAT sector: itself
    const found = await detect(bytes);
    assert.ok(found === null || found === 'ppt');
  });

  test('a corrupted compound file never throws: property over random byte changes', { timeout: 60_000 }, async () => {
    const xls = sample('xls');
    // Changes land in the header, or in the FAT / directory sectors at the end of the file.
    const position = fc.oneof(fc.nat(511), fc.integer({ min: xls.length - 2048, max: xls.length - 1 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(position, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), async (changes) => {
        const bytes = Buffer.from(xls);
        for (const [at, value] of changes) bytes[at] = value;
        const found = await detect(bytes);
        assert.ok(found === null || found === 'xls' || found === 'doc' || found === 'ppt');
      }),
      { numRuns: 200 },
    );
  });
});

describe('formatAllowed', () => {
  test('a PNG named .png passes as image; the extension is case-insensitive; jpeg means jpg', () => {
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'photo.png', 'png'), true);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'PHOTO.PNG', 'png'), true);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'photo.jpeg', 'jpg'), true);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'photo.JPG', 'jpg'), true);
  });

  test('HTML named .png fails (its bytes are no format)', async () => {
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'x.png', await detect(spoofs.html)), false);
  });

  test('a real PNG uploaded as voice fails', async () => {
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.voice, 'x.png', await detect(sample('png'))), false);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.voice, 'x.mp3', 'png'), false);
  });

  test('an exe named .pdf fails', async () => {
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.file, 'invoice.pdf', await detect(spoofs.exe)), false);
  });

  test('bytes and extension must agree', () => {
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'x.jpg', 'png'), false);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.file, 'x.xls', 'doc'), false);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.voice, 'x.wav', 'mp3'), false);
  });

  test('a name without an extension is judged by the bytes alone', () => {
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'photo', 'png'), true);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.file, '.hidden', 'pdf'), true);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'photo', 'pdf'), false);
  });

  test('an unknown extension fails', () => {
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'photo.txt', 'png'), false);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'photo.constructor', 'png'), false);
  });

  test('an OOXML file named .zip passes as file; a plain zip named .docx does not; a docx named .doc does not', () => {
    for (const format of ['docx', 'xlsx', 'pptx'] as const) assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.file, 'archive.zip', format), true);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.file, 'report.docx', 'zip'), false);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.file, 'report.doc', 'docx'), false);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.file, 'report.docx', 'docx'), true);
    assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS.image, 'archive.zip', 'docx'), false);
  });

  test('every format passes under its own type and its own extension, and under no other type', () => {
    for (const [type, rule] of Object.entries(DINGTALK_MEDIA_LIMITS)) {
      for (const format of ALL_FORMATS) {
        const expected = rule.formats.includes(format);
        assert.equal(formatAllowed(DINGTALK_MEDIA_LIMITS[type as keyof typeof DINGTALK_MEDIA_LIMITS], `x.${format}`, format), expected, `${type} ${format}`);
      }
    }
  });
});

describe('sniffing from the stager\'s head sample', () => {
  test('every sample and spoof detects the same with the first 4,100 bytes handed over as without', async () => {
    const cases: Buffer[] = [
      ...ALL_FORMATS.map((format) => sample(format)),
      ...ALL_FORMATS.map((format) => sampleOfSize(format, 300_000)),
      ...Object.values(spoofs),
      docxWithLeadingMedia(200_000),
    ];
    for (const bytes of cases) {
      const path = await stage(bytes);
      const withSample = await detectFormat(path, { size: bytes.length, head: bytes.subarray(0, 4100) });
      assert.equal(withSample, await detectFormat(path));
    }
  });
});
