/** SPEC §2.1 matrix with the primary on the anthropic protocol (streaming and non-streaming). */
import { PROTOCOLS } from './harness.js';
import { defineMatrix } from './matrix.js';

const p = PROTOCOLS.find((x) => x.name === 'anthropic');
if (!p) throw new Error('unknown protocol');
defineMatrix(p);
