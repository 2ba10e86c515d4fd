import {
  formatModelReference,
  loadRankingModel,
  parseModelReference,
  SharedModel,
  type LoadModelOptions,
  type ModelReference,
  type ModelRegistry,
  type RankingModel,
} from '@nexttap/model';
import type { Logger } from '@nexttap/observability';
import { assignmentPoint, pickVariant, type ExperimentConfig } from './experiment';

/** A failure to load the model of one experiment variant; `cause` is the registry's error. */
export class VariantModelError extends Error {
  override readonly name = 'VariantModelError';

  constructor(
    /** Index of the variant in the experiment's `variants`. */
    readonly variantIndex: number,
    override readonly cause: unknown,
  ) {
    super(`variants.${variantIndex}.model: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Variant reported while no experiment runs. */
export const DEFAULT_VARIANT = 'default';

/** Earlier live models kept for rollback, newest last. */
const MAX_HISTORY = 20;

/** One request's hold on the model that serves it. The first `release` ends it, and later calls do nothing. */
export interface ModelLease {
  model: RankingModel;
  variant: string;
  /** Id of the experiment that chose the variant, when one runs. */
  experimentId: string | undefined;
  release(): void;
}

interface LoadedModel {
  reference: ModelReference;
  /** The folder the model was loaded from when it lies outside the registry: MODEL_DIR at start. */
  directory?: string;
  shared: SharedModel;
}

/** An earlier live model, and the folder to load it from again when it is not a registry version. */
interface HistoryEntry {
  reference: ModelReference;
  directory?: string;
}

interface RunningExperiment {
  config: ExperimentConfig;
  salt: string;
  weights: number[];
  variants: Array<{ name: string; loaded: LoadedModel }>;
  startedAtMs: number;
}

/** The outcome of an activation or a rollback. */
export interface ModelChange {
  active: string;
  previous: string | undefined;
  /** False when the requested version was already live, so nothing was loaded and nothing switched. */
  changed: boolean;
  /** Id of the experiment running after the change; its variants, not the live model, serve the feeds. */
  experimentId: string | undefined;
}

/** The logger of an admin change: the request's logger, so that the line carries the request id. */
export type ChangeLogger = Pick<Logger, 'info'>;

/** The serving state, as `GET /v1/admin/models` returns it. */
export interface ServingState {
  live: string | undefined;
  rollbackTo: string | undefined;
  history: string[];
  shadow: string | undefined;
  experiment: (ExperimentConfig & { startedAt: string }) | undefined;
}

/**
 * The models a ranker serves: the live model, an optional experiment whose variants each serve a
 * model to a sticky share of users, and an optional shadow model. Changes run one at a time. Each
 * loads and validates the new model beside the old ones, then switches in one assignment. Requests
 * that hold the old model finish on it, and its session is released when the last one ends.
 *
 * NOTE: the state lives in this process only. With several rankers, send each admin call to
 * every instance; a restarted ranker serves MODEL_DIR again.
 */
export class ModelManager {
  private live: LoadedModel | undefined;
  private readonly history: HistoryEntry[] = [];
  /** Whether a rollback has run, which separates a history emptied by rollbacks from one never filled. */
  private rolledBack = false;
  private experiment: RunningExperiment | undefined;
  private shadow: LoadedModel | undefined;
  private changes: Promise<unknown> = Promise.resolve();
  private sessionsOpen = 0;

  constructor(
    readonly registry: ModelRegistry,
    private readonly loadOptions: LoadModelOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Loads the model of `directory` as the live model; the folder may lie outside the registry. */
  async start(directory: string): Promise<RankingModel> {
    const model = await loadRankingModel(directory, this.loadOptions);
    // The folder is kept, so a rollback to this model works when MODEL_DIR lies outside MODELS_DIR.
    this.live = { reference: { name: model.manifest.name, version: model.manifest.version }, directory, shared: this.share(model) };
    return model;
  }

  /**
   * Serves `model`, already loaded and validated by the caller, as the live model; for tests and
   * embedders that build models in memory. It does not join the rollback history.
   */
  useLoaded(model: RankingModel): Promise<void> {
    return this.serialise(async () => {
      this.swapLive({ reference: { name: model.manifest.name, version: model.manifest.version }, shared: this.share(model) }, this.logger, 'model activated');
    });
  }

  get liveModel(): RankingModel | undefined {
    return this.live?.shared.model;
  }

  /** Acquires the model for one request: the experiment's variant for `unitId`, else the live model. */
  acquire(unitId: string): ModelLease | undefined {
    const experiment = this.experiment;
    if (experiment !== undefined) {
      const index = pickVariant(experiment.weights, assignmentPoint(experiment.salt, unitId));
      const variant = experiment.variants[index];
      if (variant !== undefined) {
        return leaseOf(variant.loaded.shared, variant.name, experiment.config.id);
      }
    }
    return this.live === undefined ? undefined : leaseOf(this.live.shared, DEFAULT_VARIANT, undefined);
  }

  /** Acquires the shadow model, or returns undefined when none is set. */
  acquireShadow(): SharedModel | undefined {
    const shadow = this.shadow?.shared;
    if (shadow === undefined) {
      return undefined;
    }
    shadow.acquire();
    return shadow;
  }

  /**
   * Loads, validates and switches to a registry version, and the previous live model becomes the
   * rollback target. Activating the version that is already live changes nothing, and the result
   * reports it with `changed: false`. The model is not loaded again, so files replaced on disk
   * under the same version do not serve. The history stays as it is and `previous` is the current
   * rollback target, because pushing the live version onto the history would make the next
   * rollback switch to itself.
   */
  activate(referenceText: string, log: ChangeLogger = this.logger): Promise<ModelChange> {
    return this.serialise(async () => {
      const reference = parseModelReference(referenceText);
      const experimentId = this.experiment?.config.id;
      const live = this.live?.reference;
      if (live !== undefined && live.name === reference.name && live.version === reference.version) {
        const rollbackTo = this.history.at(-1);
        log.info({ model: formatModelReference(reference), experimentId }, 'model already live; activation changed nothing');
        return {
          active: formatModelReference(reference),
          previous: rollbackTo === undefined ? undefined : formatModelReference(rollbackTo.reference),
          changed: false,
          experimentId,
        };
      }
      const loaded = await this.load(reference);
      const previous = this.swapLive(loaded, log, 'model activated');
      if (previous !== undefined) {
        this.history.push(previous);
        this.history.splice(0, Math.max(0, this.history.length - MAX_HISTORY));
      }
      return { active: formatModelReference(reference), previous: previous === undefined ? undefined : formatModelReference(previous.reference), changed: true, experimentId };
    });
  }

  /** Tells whether a rollback has run in this process. */
  hasRolledBack(): boolean {
    return this.rolledBack;
  }

  /**
   * Switches back to the model that was live before the latest activation, loading it again from
   * the registry, or from its own folder when it was not a registry version (MODEL_DIR at start).
   * Returns undefined when there is none.
   */
  rollback(log: ChangeLogger = this.logger): Promise<ModelChange | undefined> {
    return this.serialise(async () => {
      const target = this.history.at(-1);
      if (target === undefined) {
        return undefined;
      }
      const loaded = target.directory === undefined ? await this.load(target.reference) : await this.loadFolder(target.directory);
      this.history.pop();
      this.rolledBack = true;
      const previous = this.swapLive(loaded, log, 'model rolled back');
      return {
        active: formatModelReference(target.reference),
        previous: previous === undefined ? undefined : formatModelReference(previous.reference),
        changed: true,
        experimentId: this.experiment?.config.id,
      };
    });
  }

  /**
   * Loads every variant's model, then replaces the running experiment, if any, in one switch.
   * Rejects with a VariantModelError that names the first variant whose model fails to load.
   */
  startExperiment(config: ExperimentConfig): Promise<void> {
    return this.serialise(async () => {
      const variants: RunningExperiment['variants'] = [];
      try {
        for (const [index, variant] of config.variants.entries()) {
          variants.push({ name: variant.name, loaded: await this.loadVariant(index, variant.model) });
        }
      } catch (error) {
        await Promise.all(variants.map((variant) => variant.loaded.shared.retire()));
        throw error;
      }
      const previous = this.experiment;
      this.experiment = {
        config,
        salt: config.salt ?? config.id,
        weights: config.variants.map((variant) => variant.weight),
        variants,
        startedAtMs: this.clock(),
      };
      this.logger.info({ experimentId: config.id, variants: config.variants.map((variant) => `${variant.name}=${variant.model}`) }, 'experiment started');
      this.retireExperiment(previous);
    });
  }

  /** Ends the running experiment with this id; returns false when it is not the running one. */
  stopExperiment(experimentId: string): Promise<boolean> {
    return this.serialise(async () => {
      const running = this.experiment;
      if (running?.config.id !== experimentId) {
        return false;
      }
      this.experiment = undefined;
      this.logger.info({ experimentId }, 'experiment stopped');
      this.retireExperiment(running);
      return true;
    });
  }

  /** Sets a shadow model already loaded and validated by the caller; for tests and embedders. */
  useLoadedShadow(model: RankingModel): Promise<void> {
    return this.serialise(async () => {
      const previous = this.shadow;
      this.shadow = { reference: { name: model.manifest.name, version: model.manifest.version }, shared: this.share(model) };
      void previous?.shared.retire();
    });
  }

  /** Sets the shadow model (a registry version), or removes it with undefined. */
  setShadow(referenceText: string | undefined): Promise<string | undefined> {
    return this.serialise(async () => {
      const loaded = referenceText === undefined ? undefined : await this.load(parseModelReference(referenceText));
      const previous = this.shadow;
      this.shadow = loaded;
      void previous?.shared.retire();
      this.logger.info({ shadow: loaded === undefined ? undefined : formatModelReference(loaded.reference) }, 'shadow model set');
      return loaded === undefined ? undefined : formatModelReference(loaded.reference);
    });
  }

  get runningExperiment(): ExperimentConfig | undefined {
    return this.experiment?.config;
  }

  state(): ServingState {
    const experiment = this.experiment;
    const rollbackTo = this.history.at(-1);
    return {
      live: this.live === undefined ? undefined : formatModelReference(this.live.reference),
      rollbackTo: rollbackTo === undefined ? undefined : formatModelReference(rollbackTo.reference),
      history: this.history.map((entry) => formatModelReference(entry.reference)),
      shadow: this.shadow === undefined ? undefined : formatModelReference(this.shadow.reference),
      experiment: experiment === undefined ? undefined : { ...experiment.config, startedAt: new Date(experiment.startedAtMs).toISOString() },
    };
  }

  /** Retires every model; sessions held by running requests are released when those end. */
  async stop(): Promise<void> {
    await this.changes.catch(() => undefined);
    const retiring = [this.live, this.shadow, ...(this.experiment?.variants.map((variant) => variant.loaded) ?? [])];
    this.live = undefined;
    this.shadow = undefined;
    this.experiment = undefined;
    await Promise.all(retiring.map((loaded) => loaded?.shared.retire()));
  }

  private async load(reference: ModelReference): Promise<LoadedModel> {
    const model = await this.registry.load(reference, this.loadOptions);
    return { reference, shared: this.share(model) };
  }

  private async loadFolder(directory: string): Promise<LoadedModel> {
    const model = await loadRankingModel(directory, this.loadOptions);
    return { reference: { name: model.manifest.name, version: model.manifest.version }, directory, shared: this.share(model) };
  }

  private async loadVariant(index: number, referenceText: string): Promise<LoadedModel> {
    try {
      return await this.load(parseModelReference(referenceText));
    } catch (error) {
      throw new VariantModelError(index, error);
    }
  }

  /** Models loaded by this manager whose onnxruntime session is not released yet. */
  get openSessions(): number {
    return this.sessionsOpen;
  }

  private share(model: RankingModel): SharedModel {
    const shared = new SharedModel(model);
    this.sessionsOpen += 1;
    void shared.released.then(() => {
      this.sessionsOpen -= 1;
    });
    return shared;
  }

  /**
   * Makes `loaded` the live model, logs `message` once on `log`, and retires the old model;
   * returns the old one's reference and folder.
   */
  private swapLive(loaded: LoadedModel, log: ChangeLogger, message: string): HistoryEntry | undefined {
    const previous = this.live;
    this.live = loaded;
    log.info(
      {
        model: formatModelReference(loaded.reference),
        previous: previous === undefined ? undefined : formatModelReference(previous.reference),
        experimentId: this.experiment?.config.id,
      },
      message,
    );
    void previous?.shared.retire();
    return previous === undefined ? undefined : { reference: previous.reference, ...(previous.directory === undefined ? {} : { directory: previous.directory }) };
  }

  private retireExperiment(experiment: RunningExperiment | undefined): void {
    for (const variant of experiment?.variants ?? []) {
      void variant.loaded.shared.retire();
    }
  }

  /** Runs admin changes one at a time, so two activations never interleave their load and switch. */
  private serialise<T>(change: () => Promise<T>): Promise<T> {
    const result = this.changes.then(change, change);
    this.changes = result.catch(() => undefined);
    return result;
  }
}

function leaseOf(shared: SharedModel, variant: string, experimentId: string | undefined): ModelLease {
  const model = shared.acquire();
  let released = false;
  return {
    model,
    variant,
    experimentId,
    release() {
      if (!released) {
        released = true;
        shared.release();
      }
    },
  };
}
