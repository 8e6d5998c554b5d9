// Confirmations. A question is printed on stderr and answered on stdin, terminal or not (a
// script may pipe the answer); --force skips it. No answer (stdin closed) refuses the action.
import type { CtlContext } from './context.js';
import { refused } from './errors.js';

export async function confirm(ctx: CtlContext, question: string, force: boolean): Promise<void> {
  if (force) return;
  const answer = await ctx.io.ask(`${question} [y/N]: `);
  if (answer === null) {
    throw refused('no confirmation: stdin is closed', 'answer the question in a terminal, or pass --force to skip it');
  }
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw refused('aborted: not confirmed');
}

/** The operator must type `expected` exactly (remove). */
export async function confirmTyped(ctx: CtlContext, question: string, expected: string): Promise<void> {
  const answer = await ctx.io.ask(question);
  if (answer === null) {
    throw refused('no confirmation: stdin is closed', `type the name "${expected}" when asked, or pass --force to skip it`);
  }
  if (answer.trim() !== expected) throw refused(`aborted: "${answer.trim()}" is not "${expected}"`);
}
