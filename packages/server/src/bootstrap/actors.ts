/** Who the audit log says made the changes of provisioning, by where they came from. */
import { setupActor, type Actor } from '../audit/index.js';

/** The bootstrap file (UNDERSTUDY_CONFIG); migration m006 reads this label on older entries. */
export const BOOTSTRAP: Actor = { id: null, label: 'bootstrap' };

/** Where a provisioning change came from: the bootstrap file, the environment, the built-in simulator. */
export type Source = 'file' | 'environment' | 'simulator';

/**
 * The actor of changes from these sources: the file when it took part (it is the operator's
 * declaration), else Understudy setting up the environment's or the simulator's providers.
 */
export function actorFor(from: ReadonlySet<Source>): Actor {
  if (from.has('file')) return BOOTSTRAP;
  return setupActor({ environment: from.has('environment'), simulator: from.has('simulator') });
}
