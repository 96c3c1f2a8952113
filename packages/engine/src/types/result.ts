/** What the engine reports about an answer: the stream of answer events and the final record. */
import type { FailureDetails, FallbackReason } from '../errors.js';
import type { FinishReason, TextEvent, ToolCall, Usage } from './chat.js';

/** How the backup's output joins what the member already saw (SPEC §2.4). */
export type TakeoverMode =
  /** Nothing had been shown: the answer simply comes from the backup. */
  | 'invisible'
  /** The backup continued the prefilled partial answer; its text is appended. */
  | 'prefill'
  /** The partial text is discarded and the backup's full answer replaces it (web chat). */
  | 'restart'
  /** The backup was asked by instruction to continue; its text is appended (API clients). */
  | 'instruct';

/** The fallback part of an answer's record (SPEC §2.6). */
export interface FallbackRecord {
  originalModelId: string;
  originalProviderId: string;
  reason: FallbackReason;
  backupModelId: string;
  backupProviderId: string;
  mode: TakeoverMode;
  /** What went wrong at the primary; absent when health memory skipped it without a call. */
  primaryFailure: FailureDetails;
  /** True when the primary was not called because health memory knew it was unavailable. */
  skippedByHealth: boolean;
  /** Why this backup was picked, in words. */
  explanation: string;
}

/** One upstream call made for the answer. */
export interface AttemptRecord {
  modelId: string;
  providerId: string;
  role: 'primary' | 'retry' | 'backup';
  startedAt: number;
  durationMs: number;
  outcome: 'ok' | 'failed' | 'cancelled';
  failure?: FailureDetails;
  /** Content had reached the member before it failed. */
  contentSent?: boolean;
  probe?: boolean;
}

/** The final record of an answer, success or failure. */
export interface AnswerResult {
  status: 'complete' | 'failed' | 'cancelled';
  /** Model and provider that produced the (final) text; the primary when nothing answered. */
  modelId: string;
  providerId: string;
  /** The full text as the member ends up seeing it. */
  text: string;
  toolCalls: ToolCall[];
  finishReason?: FinishReason;
  usage: Usage;
  latencyMs: number;
  /** Time to first content shown to the member; undefined when none was. */
  ttftMs?: number;
  fallback?: FallbackRecord;
  /** For a failed answer: the failure to show (the primary's when the backup only rejected the continuation). */
  error?: AnswerError;
  /** Malformed chunks skipped while keeping the answer. */
  malformedChunks: number;
  attempts: AttemptRecord[];
}

/** The error shown when no model could answer; names both failures, no secrets. */
export interface AnswerError {
  reason: FailureDetails['reason'];
  message: string;
  primary: FailureDetails & { modelId: string; providerId: string };
  backup?: FailureDetails & { modelId: string; providerId: string };
}

/** Events of an answer as the member (or API client) sees it. */
export type AnswerEvent =
  | TextEvent
  | { type: 'tool_call'; index: number; id?: string; name?: string; argumentsDelta: string }
  /** The backup took over; with mode `restart` the text shown so far must be discarded. */
  | { type: 'fallback'; record: FallbackRecord }
  | { type: 'usage'; usage: Usage }
  | { type: 'done'; result: AnswerResult }
  | { type: 'error'; error: AnswerError; result: AnswerResult };
