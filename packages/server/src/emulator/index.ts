// @oapi-media/server/emulator: the emulator for test runners (docs/emulator.md).
export { startEmulator, RESET_SCOPES, type Emulator, type EmulatorClock, type EmulatorOptions, type ResetScope } from './emulator.ts';
export { EMULATOR_CREDENTIALS, EMULATOR_SECRET, EMULATOR_SECRET_2, WELL_KNOWN_APPS, type EmulatorCredentials, type WellKnownApp } from './well-known.ts';
export { FAULT_KINDS, type FaultKind, type FaultRule } from './faults.ts';
export { DEFAULT_JOURNAL_LIMIT, type JournalEntry, type JournalFilter, type JournalAnswer } from './journal.ts';
export type { EmulatorFixtures, FixtureOrg, FixtureApp, FixtureMedia, SeededMedia } from './fixtures.ts';
export type { IdDescription } from './ids-lookup.ts';
export type { FormPartSummary } from '../http/multipart-upload.ts';
