/** The engine object: the executor bound to its providers, health memory and clock. */
import { systemClock, type Clock } from '../clock.js';
import type { FailureDetails } from '../errors.js';
import type { HealthMemory } from '../health/types.js';
import { chooseBackup, type BackupChoice } from '../policy/backup.js';
import type { Catalog } from '../types/catalog.js';
import type { ChatRequest } from '../types/chat.js';
import type { ProviderClient } from '../types/provider.js';
import type { AnswerEvent } from '../types/result.js';
import { answer, type AnswerInput } from './answer.js';
import { healthOf } from './health-view.js';
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from './options.js';

/** What an engine is made of. */
export interface EngineDeps {
  client: ProviderClient;
  health: HealthMemory;
  clock?: Clock;
  options?: Partial<EngineOptions>;
}

/** Model Fallback, ready to answer. */
export interface Engine {
  /** Answers one assistant message with fallback per the catalog's setting. Never throws; ends with `done` or `error`. */
  answer(input: AnswerInput): AsyncIterable<AnswerEvent>;
  /** Which backup the setting would pick for this primary now, and why (for admins). */
  chooseBackup(input: {
    catalog: Catalog;
    modelId: string;
    request?: ChatRequest;
    failure?: FailureDetails;
  }): Promise<BackupChoice>;
  /** The health memory in use. */
  readonly health: HealthMemory;
}

/** Builds an engine from its interfaces. */
export function createEngine(deps: EngineDeps): Engine {
  const exec = {
    client: deps.client,
    health: deps.health,
    clock: deps.clock ?? systemClock,
    options: { ...DEFAULT_ENGINE_OPTIONS, ...deps.options },
  };
  return {
    health: deps.health,
    answer: (input) => answer(exec, input),
    async chooseBackup({ catalog, modelId, request, failure }) {
      const primary = catalog.models.find((m) => m.id === modelId);
      if (!primary) return { explanation: `Model ${modelId} is not in the list.`, candidates: [] };
      const health = await healthOf(deps.health, catalog, modelId);
      return chooseBackup({
        catalog,
        primary,
        health,
        ...(request && { request }),
        ...(failure && { failure }),
      });
    },
  };
}
