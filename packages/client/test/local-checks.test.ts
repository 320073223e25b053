import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { DINGTALK_MEDIA_LIMITS } from '@oapi-media/core';
import { DingTalkError, type MediaType } from '../src/index.ts';
import { sample, sampleOfSize } from '../../server/test/fixtures/samples.ts';
import { clientOf, sha256, storedMedia, withEmulator } from './helpers/emulator.ts';

const local = (errcode: number, errmsg: string) => (e: unknown) =>
  e instanceof DingTalkError && e.errcode === errcode && e.errmsg === errmsg && e.local && e.httpStatus === undefined;

test('local checks answer the server errcodes and send nothing', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    const voiceLimit = DINGTALK_MEDIA_LIMITS.voice.maxBytes; // 2,097,152
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'sticker' as MediaType, filename: 'a.png' }), local(40004, '不合法的媒体文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(voiceLimit + 1), { type: 'voice', filename: 'a.mp3' }), local(40006, '不合法的文件大小'));
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'image', filename: 'page.html' }), local(40005, '不合法的文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'voice', filename: 'a.png' }), local(40005, '不合法的文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'image', filename: 'noextension' }), local(40005, '不合法的文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(0), { type: 'image', filename: 'a.png' }), local(44001, '多媒体文件为空'));
    assert.deepEqual(emu.requests.list(), []);
    // Exactly at the limit passes; the extension is matched without regard to case; jpeg is jpg.
    const atLimit = sampleOfSize('mp3', voiceLimit);
    const jpeg = sample('jpg');
    await client.media.upload(atLimit, { type: 'voice', filename: 'a.MP3' });
    await client.media.upload(jpeg, { type: 'image', filename: 'a.jpeg' });
    assert.deepEqual((await storedMedia(emu)).map((m) => m.sha256).sort(), [sha256(atLimit), sha256(jpeg)].sort());
  });
});

test('a stream of unknown size is stopped locally as soon as it passes the limit -> 40006, nothing stored', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    const limit = DINGTALK_MEDIA_LIMITS.voice.maxBytes;
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 65536;
        this.push(Buffer.alloc(65536));
      },
    });
    await assert.rejects(client.media.upload(endless, { type: 'voice', filename: 'long.mp3' }), (e: unknown) => e instanceof DingTalkError && e.errcode === 40006);
    assert.ok(produced < limit + 1024 * 1024, `read ${produced} bytes`);
    assert.ok(endless.destroyed, 'the source stream is destroyed');
    assert.deepEqual(await storedMedia(emu), []);
  });
});

test('localChecks: false sends everything and leaves the answer to the server', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu, { localChecks: false });
    const server = (errcode: number) => (e: unknown) => e instanceof DingTalkError && e.errcode === errcode && !e.local && typeof e.requestId === 'string';
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'sticker' as MediaType, filename: 'a.png' }), server(40004));
    await assert.rejects(client.media.upload(Buffer.alloc(0), { type: 'image', filename: 'a.png' }), server(44001));
    await assert.rejects(client.media.upload(Buffer.alloc(10, 7), { type: 'image', filename: 'page.html' }), server(40005));
    // An image the local check would have refused for its name: the server judges by content and takes it.
    const png = sample('png');
    const { mediaId } = await client.media.upload(png, { type: 'image', filename: 'screenshot' });
    assert.deepEqual((await storedMedia(emu)).map((m) => [m.media_id, m.file_name, m.sha256]), [[mediaId, 'screenshot', sha256(png)]]);
    assert.deepEqual(emu.requests.list({ path: '/media/upload' }).map((r) => r.answer.errcode), [40004, 44001, 40005, 0]);
  });
});
