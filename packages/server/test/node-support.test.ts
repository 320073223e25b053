// The server says so at start when it runs on a Node line outside its engines (Node 20 is past its
// end of life): the check is written out by hand, so it is pinned to the engines it stands for.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onSupportedNode, SUPPORTED_NODE } from '../src/server.ts';

test('the start-up check agrees with the package engines, line by line', () => {
  assert.equal(SUPPORTED_NODE, '^22.12.0 || >=24.0.0', 'engines changed: change onSupportedNode with them');
  const expected: Record<string, boolean> = {
    '20.19.0': false, '20.20.2': false, '21.7.3': false, '22.11.0': false, '22.12.0': true, '22.23.5': true,
    '23.11.0': false, '24.0.0': true, '24.22.3': true, '26.1.0': true,
  };
  for (const [version, supported] of Object.entries(expected)) assert.equal(onSupportedNode(version), supported, version);
});
