// Types of node-flags.mjs (plain JavaScript, so that `npm start` runs it with node alone).

/** Flags for every machine. */
export declare const BASE_FLAGS: readonly string[];
/** Flags added on a machine with at most SMALL_MACHINE_CORES cores. */
export declare const SMALL_MACHINE_FLAGS: readonly string[];
export declare const SMALL_MACHINE_CORES: number;
/** The node flags `npm start` runs the server with on a machine of `cores` cores, given `env`. */
export declare function nodeFlags(cores?: number, env?: NodeJS.ProcessEnv): string[];
