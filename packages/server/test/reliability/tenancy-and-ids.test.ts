// Tenancy: an app never reads another organization's media, whatever id it tries (its real ids,
// 1,000 guesses), nor deletes or lists it through the API; media_ids are not enumerable.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { sampleOfSize } from '../fixtures/samples.ts';
import { downloadBytes, getToken, sha256, tokenOf, upload } from '../helpers/e2e-http.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { newMediaId } from '../../src/service/ids.ts';
import { count, recordFigures } from './helpers/figures.ts';

let server: TestServer;
let tokenA: string;
let tokenB: string;
const stored: { mediaId: string; sha256: string }[] = [];
const REAL_IDS = 20;
const GUESSES = 1000;

before(async () => {
  server = await startTestServer();
  tokenA = await tokenOf(server);
  const other = await server.createApp('other-org');
  tokenB = await getToken(server.baseUrl, other.appKey, other.appSecret);
  for (let i = 0; i < REAL_IDS; i++) {
    const bytes = sampleOfSize('png', 1000 + i);
    const answer = await upload(server.baseUrl, tokenA, 'image', bytes, `a${i}.png`);
    assert.equal(answer.errcode, 0);
    stored.push({ mediaId: answer.media_id!, sha256: sha256(bytes) });
  }
});
after(async () => server?.close());

const answerOf = async (url: string, init?: RequestInit) => {
  const response = await fetch(url, init);
  const text = await response.text();
  const json = JSON.parse(text) as { errcode: number; errmsg: string };
  return { status: response.status, errcode: json.errcode, errmsg: json.errmsg, etag: response.headers.get('etag') };
};
const download = (token: string, mediaId: string, path = '/media/downloadFile') =>
  answerOf(`${server.baseUrl}${path}?${new URLSearchParams({ access_token: token, media_id: mediaId })}`);

/** Ids an attacker would try: fresh random ones, and near misses of real ones. */
function guessedIds(): string[] {
  const guesses: string[] = [];
  for (let i = 0; guesses.length < GUESSES; i++) {
    const real = stored[i % stored.length]!.mediaId;
    const variant = i % 5;
    if (variant === 0) guesses.push(`@${randomBytes(18).toString('base64url')}`);
    else if (variant === 1) guesses.push(real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A')); // last char changed
    else if (variant === 2) guesses.push(real.slice(0, 12) + randomBytes(9).toString('base64url').slice(0, real.length - 12)); // shared prefix
    else if (variant === 3) guesses.push(real.replace(/[a-z]/, (c) => c.toUpperCase())); // case changed
    else guesses.push(`@${Buffer.from(String(i)).toString('base64url').padEnd(24, 'A')}`); // sequential-looking
  }
  return guesses.filter((g) => !stored.some((s) => s.mediaId === g));
}

test(`another org's app gets 40007 for all ${REAL_IDS} real ids of org A (both download paths), exactly like an unknown id`, async () => {
  const unknown = await download(tokenB, `@${randomBytes(18).toString('base64url')}`);
  for (const media of stored) {
    for (const path of ['/media/downloadFile', '/media/get']) {
      const foreign = await download(tokenB, media.mediaId, path);
      assert.deepEqual(foreign, unknown, 'a foreign id answers exactly as an unknown one (no probe)');
      assert.equal(foreign.errcode, 40007);
    }
  }
});

test(`${count(GUESSES)} guessed ids (random, near misses, shared prefixes, case flips, sequential) -> 40007 for org A and org B alike`, async () => {
  const guesses = guessedIds();
  const codes = new Map<number, number>();
  for (const guess of guesses) {
    for (const token of [tokenA, tokenB]) {
      const answer = await download(token, guess);
      codes.set(answer.errcode, (codes.get(answer.errcode) ?? 0) + 1);
      assert.equal(answer.errcode, 40007, `guess ${guess}`);
      assert.equal(answer.etag, null, 'no bytes');
    }
  }
  // No API path deletes or lists media: methods other than GET are 43001, other paths 404.
  const target = stored[0]!.mediaId;
  const deletes = [
    await answerOf(`${server.baseUrl}/media/downloadFile?access_token=${tokenB}&media_id=${encodeURIComponent(target)}`, { method: 'DELETE' }),
    await answerOf(`${server.baseUrl}/media/delete?access_token=${tokenB}&media_id=${encodeURIComponent(target)}`, { method: 'POST' }),
    await answerOf(`${server.baseUrl}/media/list?access_token=${tokenB}`),
  ];
  assert.deepEqual(deletes.map((d) => d.errcode), [43001, 404, 404]);
  for (const media of stored) {
    assert.equal(sha256((await downloadBytes(server.baseUrl, tokenA, media.mediaId)).bytes), media.sha256, 'org A still reads all of its media');
  }
  await recordFigures({
    id: 'tenancy/foreign-and-guessed-ids', section: 'Tenancy and security',
    title: 'an app never reads, lists or deletes another organization\'s media, whatever id it tries', variant: 'default',
    summary: `${REAL_IDS} real ids of org A x 2 paths from org B -> 40007 (identical to an unknown id); ${count(guesses.length)} guessed ids x 2 orgs -> ` +
      `${count(codes.get(40007) ?? 0)}×40007, 0 bytes served; DELETE/delete/list -> 43001/404/404; org A's ${REAL_IDS} media intact`,
    figures: { realIds: REAL_IDS, guesses: guesses.length, answers40007: codes.get(40007) ?? 0, otherAnswers: [...codes].filter(([c]) => c !== 40007).length },
  });
});

test('media_ids: 10,000 all distinct, "@" + 24 base64url characters, no shared prefix beyond "@", every bit balanced', async () => {
  const ids = Array.from({ length: 10_000 }, () => newMediaId());
  const real = stored.map((s) => s.mediaId);
  for (const id of [...ids, ...real]) assert.match(id, /^@[A-Za-z0-9_-]{24}$/);
  assert.equal(new Set(ids).size, ids.length, 'all distinct');
  // The longest prefix any two share: sorted neighbours. For 144 random bits, two sharing 7+
  // characters after '@' happens with probability ~1e-5.
  const sorted = [...ids].sort();
  let longestShared = 0;
  for (let i = 1; i < sorted.length; i++) {
    let n = 0;
    while (sorted[i]![n] === sorted[i - 1]![n]) n++;
    longestShared = Math.max(longestShared, n - 1);
  }
  assert.ok(longestShared <= 6, `two ids share ${longestShared} characters after '@'`);
  let commonToAll = 0;
  while (ids.every((id) => id[1 + commonToAll] === ids[0]![1 + commonToAll])) commonToAll++;
  assert.equal(commonToAll, 0, 'no prefix common to all beyond "@"');
  // Each of the 144 bits is 1 in about half the ids (binomial, 5 standard deviations = ±250).
  const ones = new Array<number>(144).fill(0);
  for (const id of ids) {
    const bytes = Buffer.from(id.slice(1), 'base64url');
    for (let bit = 0; bit < 144; bit++) if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) ones[bit]!++;
  }
  const worst = Math.max(...ones.map((n) => Math.abs(n - 5000)));
  assert.ok(worst <= 250, `a bit deviates by ${worst} from 5,000`);
  // Order of issue says nothing: consecutive ids are as often up as down.
  let ups = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i]! > ids[i - 1]!) ups++;
  assert.ok(Math.abs(ups - 5000) < 300, `${ups} of 9,999 consecutive pairs go up`);
  await recordFigures({
    id: 'tenancy/media-id-randomness', section: 'Tenancy and security', title: 'media_ids are not enumerable', variant: 'default',
    summary: `10,000 ids: 10,000 distinct, all "@" + 24 base64url chars (144 random bits), longest prefix two share ${longestShared} chars, ` +
      `common to all 0; worst bit ${worst} off 5,000 (limit 250); ${ups} of 9,999 consecutive pairs ascending`,
    figures: { ids: ids.length, distinct: new Set(ids).size, longestSharedPrefix: longestShared, worstBitDeviation: worst, ascendingPairs: ups },
  });
});
