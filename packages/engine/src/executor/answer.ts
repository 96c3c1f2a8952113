/**
 * One assistant message, with Model Fallback (SPEC §2.1–2.4): the primary (with at most one
 * quick retry for a blip), then at most one backup, never a chain. Content streams through as it
 * arrives; a failure before any content is invisible, a failure after content is taken over.
 */
import type { CancelSignal } from '../cancel.js';
import type { Clock } from '../clock.js';
import type { ProviderError } from '../errors.js';
import { isFallbackReason, type FailureDetails } from '../errors.js';
import type { HealthMemory } from '../health/types.js';
import { chooseBackup, type BackupChoice } from '../policy/backup.js';
import { estimateRequestTokens, estimateTextTokens } from '../tokens.js';
import type { Catalog } from '../types/catalog.js';
import type { ChatRequest, Usage } from '../types/chat.js';
import type { ModelTarget, ProviderClient } from '../types/provider.js';
import type {
  AnswerError,
  AnswerEvent,
  AnswerResult,
  AttemptRecord,
  FallbackRecord,
  TakeoverMode,
} from '../types/result.js';
import { runAttempt, type AttemptOutcome } from './attempt.js';
import { askedToWait, checkOf, healthOf, knownDown, refOf, safe } from './health-view.js';
import { backupRequest, noBackupNote, quickRetryWait, targetOf } from './rules.js';
import { timeoutsFor, type EngineOptions } from './options.js';
import { asSentences, describeFailure } from './words.js';

/** What the executor is built from. */
export interface ExecutorDeps {
  client: ProviderClient;
  health: HealthMemory;
  clock: Clock;
  options: EngineOptions;
}

/** One answer to produce. */
export interface AnswerInput {
  catalog: Catalog;
  /** The Mate's model; the organization default when omitted. */
  modelId?: string;
  request: ChatRequest;
  signal?: CancelSignal;
  /** After content was shown, a backup that cannot continue a prefill restarts (web chat, whole API answers) or is instructed to continue (streaming API). */
  takeover: 'restart' | 'instruct';
}

/** Produces one answer as a stream of events; ends with `done` or `error`. Never throws. */
export async function* answer(
  deps: ExecutorDeps,
  input: AnswerInput,
): AsyncGenerator<AnswerEvent, void, undefined> {
  const { client, health, clock, options } = deps;
  const { catalog, request, signal } = input;
  const start = clock.now();
  const inputTokens = estimateRequestTokens(request);
  const attempts: AttemptRecord[] = [];
  const usages: Usage[] = [];
  let malformed = 0;
  let firstShownAt: number | undefined;
  let shown = '';
  let toolCallsShown = false;

  const modelId = input.modelId ?? catalog.defaultModelId;
  const primaryModel = catalog.models.find((m) => m.id === modelId);
  const primary = primaryModel && targetOf(catalog, primaryModel);
  if (!primaryModel || !primary) {
    const f: FailureDetails = {
      reason: 'bad_request',
      message: `model ${modelId} is not in the organization's list`,
    };
    yield errorEvent(f, undefined);
    return;
  }

  function result(
    status: AnswerResult['status'],
    by: ModelTarget,
    text: string,
    extra: Partial<AnswerResult>,
  ): AnswerResult {
    const usage: Usage = usages.reduce(
      (a, u) => ({
        inputTokens: a.inputTokens + u.inputTokens,
        outputTokens: a.outputTokens + u.outputTokens,
        estimated: a.estimated || u.estimated,
      }),
      { inputTokens: 0, outputTokens: 0, estimated: false },
    );
    const r: AnswerResult = {
      status,
      modelId: by.model.id,
      providerId: by.provider.id,
      text,
      toolCalls: [],
      usage,
      latencyMs: clock.now() - start,
      malformedChunks: malformed,
      attempts,
      ...extra,
    };
    if (firstShownAt !== undefined) r.ttftMs = firstShownAt - start;
    return r;
  }

  /** The standard error: names the primary's failure and the backup's, if one was asked; the reason is the primary's. */
  function errorEvent(
    primaryFailure: FailureDetails,
    backup: { target: ModelTarget; failure: FailureDetails } | undefined,
    extra: Partial<AnswerResult> = {},
    /** Why no backup was asked, when fallback was due but none could be. */
    note?: string,
  ): AnswerEvent {
    const p = primary ?? {
      model: { id: modelId, label: modelId },
      provider: { id: '', label: 'unknown provider' },
    };
    const parts = [describeFailure(p.model.label, p.provider.label, primaryFailure)];
    if (note) parts.push(note);
    if (backup)
      parts.push(
        `The backup ${describeFailure(backup.target.model.label, backup.target.provider.label, backup.failure)}`,
      );
    const error: AnswerError = {
      reason: primaryFailure.reason,
      message: asSentences(parts),
      primary: { ...primaryFailure, modelId: p.model.id, providerId: p.provider.id },
    };
    if (backup)
      error.backup = {
        ...backup.failure,
        modelId: backup.target.model.id,
        providerId: backup.target.provider.id,
      };
    const res: AnswerResult = primary
      ? // The backup is named only when its words are in the answer (a takeover that then failed);
        // a backup that failed before any content produced nothing, so the answer is the primary's.
        result('failed', backup && extra.fallback ? backup.target : primary, shown, { error, ...extra })
      : {
          status: 'failed',
          modelId,
          providerId: '',
          text: '',
          toolCalls: [],
          usage: { inputTokens: 0, outputTokens: 0, estimated: true },
          latencyMs: clock.now() - start,
          malformedChunks: 0,
          attempts,
          error,
        };
    return { type: 'error', error, result: res };
  }

  /** After the takeover is announced: a restart replaces what was shown, so the member sees the backup's text alone. */
  function takenOver(lead: AnswerEvent): void {
    if (lead.type === 'fallback' && lead.record.mode === 'restart') {
      shown = '';
      toolCallsShown = false;
    }
  }

  /** Runs one attempt, passing its content on and keeping the books. */
  async function* run(
    target: ModelTarget,
    req: ChatRequest,
    role: AttemptRecord['role'],
    probe: boolean,
    lead?: Extract<AnswerEvent, { type: 'fallback' }>,
  ): AsyncGenerator<AnswerEvent, AttemptOutcome, undefined> {
    const startedAt = clock.now();
    const t = timeoutsFor(target.model, inputTokens, options);
    const ref = refOf(target);
    const it = runAttempt(
      client,
      clock,
      target,
      req,
      t,
      signal,
      (ttft) => void safe(() => health.recordSuccess(ref, ttft), undefined),
      lead && lead.record.mode !== 'restart' ? shown : '',
    );
    let outcome: AttemptOutcome | undefined;
    try {
      while (true) {
        const r = await it.next();
        if (r.done) {
          outcome = r.value;
          break;
        }
        if (lead) {
          yield lead;
          takenOver(lead);
          lead = undefined;
        }
        firstShownAt ??= clock.now();
        if (r.value.type === 'text') shown += r.value.text;
        else toolCallsShown = true;
        yield r.value;
      }
    } finally {
      // The consumer stopped reading (return() at a yield): end the attempt, which aborts upstream.
      if (!outcome) {
        await it.return(undefined as never);
        if (probe) void safe(() => health.releaseProbe(ref), undefined);
      }
    }
    malformed += outcome.malformed;
    // A backup that completed without content still took over: a restart then leaves nothing shown.
    if (lead && outcome.status === 'ok') {
      yield lead;
      takenOver(lead);
    }
    if (outcome.contentSent || outcome.status === 'ok') {
      const u = outcome.usage;
      usages.push(
        u
          ? { inputTokens: u.inputTokens, outputTokens: u.outputTokens, estimated: false }
          : {
              inputTokens: estimateRequestTokens(req),
              outputTokens: estimateTextTokens(outcome.text),
              estimated: true,
            },
      );
    }
    const rec: AttemptRecord = {
      modelId: target.model.id,
      providerId: target.provider.id,
      role,
      startedAt,
      durationMs: outcome.durationMs,
      outcome: outcome.status,
    };
    if (outcome.failure) rec.failure = outcome.failure.toDetails();
    if (outcome.contentSent) rec.contentSent = true;
    if (probe) rec.probe = true;
    attempts.push(rec);
    if (outcome.status === 'ok' && !outcome.contentSent)
      void safe(() => health.recordSuccess(ref, outcome.durationMs), undefined);
    if (outcome.status === 'failed' && outcome.failure)
      void safe(() => health.recordFailure(ref, outcome.failure!.toDetails()), undefined);
    if (outcome.status === 'cancelled' && probe) void safe(() => health.releaseProbe(ref), undefined);
    return outcome;
  }

  /**
   * The closing events of an answer completed by `by`: its usage, then `done`. An array the caller
   * loops over, not a generator: `yield*` of a sync generator inside an async one goes through an
   * async-from-sync wrapper that cost a healthy answer more than all its bookkeeping.
   */
  function completed(
    by: ModelTarget,
    o: AttemptOutcome,
    text: string,
    fallback?: FallbackRecord,
  ): AnswerEvent[] {
    const res = result('complete', by, text, {
      toolCalls: o.toolCalls.filter(Boolean),
      ...(o.finish && { finishReason: o.finish }),
      ...(fallback && { fallback }),
    });
    return [
      { type: 'usage', usage: res.usage },
      { type: 'done', result: res },
    ];
  }

  const cancelled = (by: ModelTarget, fallback?: FallbackRecord): AnswerEvent => ({
    type: 'done',
    result: result('cancelled', by, shown, fallback ? { fallback } : {}),
  });

  /** The backup for a primary failure, with the health of the candidates it was chosen on. */
  const pickBackup = async (failure: FailureDetails) => {
    const pendingHealth = healthOf(health, catalog, primary.model.id);
    const candidatesHealth = pendingHealth instanceof Promise ? await pendingHealth : pendingHealth;
    const choice: BackupChoice = chooseBackup({
      catalog,
      primary: primary.model,
      request,
      inputTokens,
      failure,
      health: candidatesHealth,
    });
    return { candidatesHealth, choice };
  };
  let picked: Awaited<ReturnType<typeof pickBackup>> | undefined;

  // 1. The primary, unless health memory knows it is down and there is a backup to go to (then
  //    straight to it, no wait). With no backup to go to (Fallback None, or every candidate known
  //    down too) skipping would fail the answer without asking anyone, and keep failing the
  //    member's retries until the breaker's cooldown ends even once the provider is back: the
  //    primary is asked after all, as the only chance, unless it asked to be left alone (a long
  //    Retry-After; a breaker opened by counting failures, 429s among them, did not ask).
  let primaryFailure: FailureDetails;
  // What health memory knows of a primary it says is down, when the primary is not called.
  let known: FailureDetails | undefined;
  const ref = refOf(primary);
  const checked = checkOf(health, ref);
  const h = checked instanceof Promise ? await checked : checked;
  let probe = false;
  if (h && !h.available) {
    if (h.probeDue && (await safe(() => health.tryAcquireProbe(ref), false))) probe = true;
    else {
      const now = clock.now();
      const down = knownDown(h, now);
      picked = await pickBackup(down);
      const b = picked.choice.model;
      const bh = b && picked.candidatesHealth.get(b.id);
      // A provider that asked to be left alone (a long Retry-After) is, backup or not.
      if (askedToWait(h, now) || (b !== undefined && (!bh || bh.available || bh.probeDue))) known = down;
      else picked = undefined;
    }
  }
  const skippedByHealth = known !== undefined;
  if (known) {
    primaryFailure = known;
  } else {
    let o = yield* run(primary, request, 'primary', probe);
    if (o.status === 'ok') {
      for (const ev of completed(primary, o, o.text)) yield ev;
      return;
    }
    if (o.status === 'cancelled') return void (yield cancelled(primary));
    let failure = o.failure as ProviderError;
    const wait = !probe && !o.contentSent ? quickRetryWait(failure, options) : undefined;
    if (wait !== undefined && (await checkOf(health, ref))?.available !== false) {
      try {
        await clock.sleep(wait, signal);
      } catch {
        return void (yield cancelled(primary));
      }
      o = yield* run(primary, request, 'retry', false);
      if (o.status === 'ok') {
        for (const ev of completed(primary, o, o.text)) yield ev;
        return;
      }
      if (o.status === 'cancelled') return void (yield cancelled(primary));
      failure = o.failure as ProviderError;
    }
    primaryFailure = failure.toDetails();
    if (!isFallbackReason(failure.reason)) return void (yield errorEvent(primaryFailure, undefined));
  }

  // 2. One backup, never a chain.
  const fallbackReason = primaryFailure.reason;
  if (!isFallbackReason(fallbackReason)) return void (yield errorEvent(primaryFailure, undefined));
  const { candidatesHealth, choice } = picked ?? (await pickBackup(primaryFailure));
  const backup = choice.model && targetOf(catalog, choice.model);
  if (!backup) return void (yield errorEvent(primaryFailure, undefined, {}, noBackupNote(catalog, choice)));
  const contentSent = shown.length > 0 || toolCallsShown;
  let mode: TakeoverMode = 'invisible';
  if (contentSent) {
    // A half-streamed tool call cannot be continued; the chat can still restart the answer.
    if (toolCallsShown && input.takeover === 'instruct')
      return void (yield errorEvent(primaryFailure, undefined));
    mode = !toolCallsShown && backup.model.capabilities.includes('prefill') ? 'prefill' : input.takeover;
  }
  const bref = refOf(backup);
  // The health the choice was made on, read a moment ago: asking again would cost a round trip
  // through the health store on every fallback for the same answer.
  const bh = candidatesHealth.get(backup.model.id);
  let backupProbe = false;
  if (bh && !bh.available) {
    const now = clock.now();
    if (bh.probeDue && (await safe(() => health.tryAcquireProbe(bref), false))) backupProbe = true;
    // A Specific model is "always that model" (Automatic never picks one known down): it is the
    // only chance left, so it is asked as a primary with no backup is, unless it asked to be left
    // alone. Skipping it kept failing every answer until its cooldown ended, back or not.
    else if (catalog.fallback.mode !== 'specific' || askedToWait(bh, now))
      return void (yield errorEvent(primaryFailure, { target: backup, failure: knownDown(bh, now) }));
  }
  const record: FallbackRecord = {
    originalModelId: primary.model.id,
    originalProviderId: primary.provider.id,
    reason: fallbackReason,
    backupModelId: backup.model.id,
    backupProviderId: backup.provider.id,
    mode,
    primaryFailure,
    skippedByHealth,
    explanation: choice.explanation,
  };
  // Announced with the backup's first content: a backup that fails before it changes nothing shown.
  const partial = shown;
  const lead: AnswerEvent = { type: 'fallback', record };
  const req = backupRequest(request, mode, partial);
  const b = yield* run(backup, req, 'backup', backupProbe, lead);
  if (b.status === 'ok') {
    for (const ev of completed(backup, b, shown, record)) yield ev;
    return;
  }
  if (b.status === 'cancelled')
    return void (yield b.contentSent ? cancelled(backup, record) : cancelled(primary));
  const backupFailure = (b.failure as ProviderError).toDetails();
  // After a takeover the member is owed the real cause: the primary's failure, not the backup's rejection.
  const extra = b.contentSent ? { fallback: record } : {};
  yield errorEvent(primaryFailure, { target: backup, failure: backupFailure }, extra);
}
