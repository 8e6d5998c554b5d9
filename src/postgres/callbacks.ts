// postgresql.callbacks (SPEC 5.11), run as Patroni runs them (postgresql/callback_executor.py):
// `shlex.split(command) + [action, role, scope]`, no shell, in the agent's working directory,
// never awaited by the loop. One callback at a time: a new one cancels the one still running
// (a stale on_role_change must not finish after a newer one), except on_reload, which has a
// slot of its own. A callback's outcome changes nothing in the cluster: it is logged only.
import type { Logger } from 'pino';
import type { CallbackName } from '../config/types.js';
import { RunnerError, type Runner } from '../exec/runner.js';
import { shlexSplit } from '../exec/shlex.js';
import { asError } from '../errors.js';

/** Patroni 4.x role names as callbacks receive them. */
export type CallbackRole = 'primary' | 'replica' | 'demoted';

export interface CallbackExecutor {
  /** Start the callback for `action` if one is configured; returns at once. */
  call(action: CallbackName, role: CallbackRole): void;
  /** Settles when the callbacks started so far have ended (tests, shutdown). */
  idle(): Promise<void>;
}

export interface CallbackDeps {
  readonly commands: () => Readonly<Partial<Record<CallbackName, string>>>;
  readonly scope: () => string;
  readonly runner: Runner;
  readonly logger: Logger;
}

interface Slot { controller: AbortController; done: Promise<void> }

export function createCallbackExecutor(deps: CallbackDeps): CallbackExecutor {
  const slots = new Map<'main' | 'reload', Slot>();
  const log = deps.logger;

  async function run(argv: readonly string[], action: CallbackName, role: CallbackRole, signal: AbortSignal): Promise<void> {
    try {
      const [cmd, ...args] = argv;
      if (cmd === undefined) return;
      await deps.runner.run(cmd, args, { signal, logLevel: 'info' });
    } catch (err) {
      if (err instanceof RunnerError && err.code === 'aborted') {
        log.info({ action, role }, 'callback cancelled by a newer one');
        return;
      }
      log.warn({ action, role, err: asError(err) }, 'callback could not be run');
    }
  }

  return {
    call(action, role) {
      const command = deps.commands()[action];
      if (command === undefined || command.trim() === '') return;
      let argv: string[];
      try {
        argv = [...shlexSplit(command), action, role, deps.scope()];
      } catch (err) {
        log.error({ action, err: asError(err) }, 'callback command cannot be split into arguments');
        return;
      }
      const key = action === 'on_reload' ? 'reload' : 'main';
      const previous = slots.get(key);
      previous?.controller.abort(new Error(`superseded by ${action}`));
      const controller = new AbortController();
      log.info({ action, role }, 'running callback');
      // As Patroni: the new callback starts once the cancelled one has really ended.
      const done = (previous?.done ?? Promise.resolve()).then(() => run(argv, action, role, controller.signal));
      slots.set(key, { controller, done });
    },
    async idle() {
      await Promise.all([...slots.values()].map((s) => s.done));
    },
  };
}
