import { procedure, requireUser, router } from '../trpc.js';
import { decideInput, forSignalInput, forSignalOutput, ownDecisionView, pendingInput, pendingOutput } from '../schemas/approval.js';
import { decide, decisionsFor, pendingApprovals } from '../services/approvals.js';

export const approvalsRouter = router({
  /** The caller's undecided open signals from owners they subscribe to (public view, newest first). */
  pending: procedure
    .input(pendingInput)
    .output(pendingOutput)
    .query(({ ctx, input }) => pendingApprovals(ctx.deps, requireUser(ctx), input, ctx.rule.rows)),
  /** Approve or reject a signal, once. The caller's IP and user agent are stored with it. */
  decide: procedure
    .input(decideInput)
    .output(ownDecisionView)
    .mutation(({ ctx, input }) => decide(ctx.deps, requireUser(ctx), input, { ip: ctx.ip, userAgent: ctx.userAgent }, ctx.rule.rows)),
  /** For the signal's owner: every decision and the counts (pending: subscribers yet to decide). */
  forSignal: procedure
    .input(forSignalInput)
    .output(forSignalOutput)
    .query(({ ctx, input }) => decisionsFor(ctx.deps, requireUser(ctx), input.signalId, ctx.rule.rows)),
});
