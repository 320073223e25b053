export * from './media-types.ts';
export * from './error-kinds.ts';
export * from './wires/wire.ts';
export * from './wires/dingtalk.ts';
export * from './wires/wecom.ts';
export * from './wires/feishu.ts';
export * from './byte-ranges.ts';
