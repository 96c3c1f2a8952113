/** The bounded SSE decoder shared by every streaming protocol. */
export { DEFAULT_MAX_LINE_BYTES, SseDecoder, decodeSse, type SseEvent } from './decoder.js';
