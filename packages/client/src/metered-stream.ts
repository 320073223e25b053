// Passes an upload's bytes through while counting them: for progress reports, and to stop
// a stream of unknown size as soon as it passes the type's limit instead of sending
// megabytes the server will refuse (api.md "POST /media/upload": a chunked body is cut off at limit + 1 byte).

import { LOCAL_CHECK_NOTES, localError } from './local-checks.ts';

export interface MeterOptions {
  onBytes?: ((loaded: number) => void) | undefined;
  /** Error the stream once more than this many bytes went through. */
  maxBytes?: number | undefined;
}

export function meteredStream(source: ReadableStream<Uint8Array>, options: MeterOptions): ReadableStream<Uint8Array> {
  let loaded = 0;
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        loaded += chunk.byteLength;
        if (options.maxBytes !== undefined && loaded > options.maxBytes) {
          controller.error(localError('mediaTooLarge', LOCAL_CHECK_NOTES.stoppedAtLimit));
          return;
        }
        controller.enqueue(chunk);
        options.onBytes?.(loaded);
      },
    }),
  );
}
