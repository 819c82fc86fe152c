// The approval workflow's API shapes. A subscriber sees only their own decision; the owner sees
// every decision on their signal and the counts. IP and user agent are stored for audit and are in
// no view.
import { z } from 'zod';
import { publicSignalView, signalId } from './signal.js';
import { wellFormedText } from './json.js';

export const REASON_MAX_CHARS = 500;

export const decisionInput = z.enum(['approve', 'reject']);
export const decisionStored = z.enum(['approved', 'rejected']);

export const pendingInput = z
  .object({
    cursor: z.string().max(200).nullish(),
    limit: z.number().int().min(1).max(100).default(50),
  })
  .default({ limit: 50 });

export const pendingOutput = z.object({ items: z.array(publicSignalView), nextCursor: z.string().nullable() });

export const decideInput = z.object({
  signalId,
  decision: decisionInput,
  reason: wellFormedText.trim().min(1).max(REASON_MAX_CHARS).optional(),
});

export const ownDecisionView = z.object({
  signalId: z.string(),
  decision: decisionStored,
  reason: z.string().nullable(),
  decidedAt: z.date(),
});

export const forSignalInput = z.object({ signalId });

export const decisionView = z.object({
  subscriberId: z.string(),
  subscriberName: z.string(),
  decision: decisionStored,
  reason: z.string().nullable(),
  decidedAt: z.date(),
});

export const forSignalOutput = z.object({
  signalId: z.string(),
  decisions: z.array(decisionView),
  counts: z.object({ approved: z.number().int(), rejected: z.number().int(), pending: z.number().int() }),
});
