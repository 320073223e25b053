export * from './media-types.ts';
export * from './errors.ts';
