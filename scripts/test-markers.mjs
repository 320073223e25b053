// The line by which an API test file says it runs through the bundle too (scripts/test-engines.mjs
// decides and checks each file; scripts/run-tests.mjs --not-through-bundle leaves those out).
export const BUNDLE_MARKER = /^\/\/ TEST_SERVER=bundle:/m;
