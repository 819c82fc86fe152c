import { z } from 'zod';
import { wellFormedText } from './json.js';

export const role = z.enum(['admin', 'owner', 'subscriber']);
export const userId = z.uuid();
export const userName = wellFormedText.trim().min(1).max(100);

export const userView = z.object({
  id: z.string(),
  name: z.string(),
  role,
  disabledAt: z.date().nullable(),
  createdAt: z.date(),
});
export type UserView = z.infer<typeof userView>;

export const tokenLabel = wellFormedText.trim().min(1).max(100);

export const subscriptionView = z.object({ ownerId: z.string(), subscriberId: z.string(), createdAt: z.date() });
