import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { DINGTALK_MEDIA_LIMITS } from '@oapi-media/core';
import { createClient, DingTalkError, type MediaType } from '../src/index.ts';
import { startFakeDingTalk } from './helpers/fake-dingtalk.ts';

const local = (errcode: number, errmsg: string) => (e: unknown) =>
  e instanceof DingTalkError && e.errcode === errcode && e.errmsg === errmsg && e.local && e.httpStatus === undefined;

test('local checks answer the server errcodes and send nothing', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    const voiceLimit = DINGTALK_MEDIA_LIMITS.voice.maxBytes; // 2,097,152
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'sticker' as MediaType, filename: 'a.png' }), local(40004, '不合法的媒体文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(voiceLimit + 1), { type: 'voice', filename: 'a.mp3' }), local(40006, '不合法的文件大小'));
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'image', filename: 'page.html' }), local(40005, '不合法的文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'voice', filename: 'a.png' }), local(40005, '不合法的文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'image', filename: 'noextension' }), local(40005, '不合法的文件类型'));
    await assert.rejects(client.media.upload(Buffer.alloc(0), { type: 'image', filename: 'a.png' }), local(44001, '多媒体文件为空'));
    assert.equal(fake.count('/gettoken') + fake.count('/media/upload'), 0);
    // Exactly at the limit passes; the extension is matched without regard to case; jpeg is jpg.
    await client.media.upload(Buffer.alloc(voiceLimit, 1), { type: 'voice', filename: 'a.MP3' });
    await client.media.upload(Buffer.alloc(10, 1), { type: 'image', filename: 'a.jpeg' });
    assert.equal(fake.media.size, 2);
  } finally {
    await fake.close();
  }
});

test('a stream of unknown size is stopped locally as soon as it passes the limit -> 40006, nothing stored', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
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
    assert.equal(fake.media.size, 0);
  } finally {
    await fake.close();
  }
});

test('localChecks: false sends everything and leaves the answer to the server', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret, localChecks: false });
    await assert.rejects(client.media.upload(Buffer.alloc(10), { type: 'sticker' as MediaType, filename: 'a.png' }), (e: unknown) =>
      e instanceof DingTalkError && e.errcode === 40004 && !e.local && typeof e.requestId === 'string');
    await assert.rejects(client.media.upload(Buffer.alloc(0), { type: 'image', filename: 'a.png' }), (e: unknown) =>
      e instanceof DingTalkError && e.errcode === 44001 && !e.local);
    const { mediaId } = await client.media.upload(Buffer.alloc(10, 7), { type: 'image', filename: 'page.html' });
    assert.equal(fake.media.get(mediaId)?.filename, 'page.html');
    assert.equal(fake.count('/media/upload'), 3);
  } finally {
    await fake.close();
  }
});
