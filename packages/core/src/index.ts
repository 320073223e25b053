export * from './media-types.ts';
export * from './error-kinds.ts';
export * from './wires/dingtalk.ts';
export * from './byte-ranges.ts';
