// The signal's API shapes. The public view has no owner-only field at all: parsing a row through it
// strips the field, so redaction holds by construction.
import { z } from 'zod';
import { jsonInputValue, jsonObject, jsonValue, wellFormedKeys, wellFormedText } from './json.js';

export const OWNER_ONLY_MAX_BYTES = 16 * 1024;

/** Exact decimal as text: up to 20 integer and 10 fraction digits, no sign, no exponent. */
export const decimalString = z
  .string()
  .regex(/^(0|[1-9]\d{0,19})(\.\d{1,10})?$/, 'must be a positive decimal such as "1923.50"')
  .refine((v) => !/^0(\.0+)?$/.test(v), { message: 'must be greater than zero' });

export const instrument = z
  .string()
  .regex(/^[A-Z0-9._-]{2,20}$/, 'must be 2-20 characters of A-Z, 0-9, ".", "_" or "-"');

export const signalSide = z.enum(['buy', 'sell']);
export const signalStatus = z.enum(['open', 'closed', 'cancelled']);

/**
 * What only the owner sees. Known fields are typed; any other JSON the owner keeps is allowed. Its
 * text and keys must be well-formed, as in every stored string (see json.ts).
 */
export const ownerOnlyInput = z
  .object({
    stopLoss: decimalString.optional(),
    takeProfit: decimalString.optional(),
    strategy: wellFormedText.max(200).optional(),
    notes: wellFormedText.max(16_000).optional(),
  })
  .catchall(jsonInputValue)
  .superRefine(wellFormedKeys);

export const ownerOnlyValue = z.object({
  stopLoss: z.string().optional(),
  takeProfit: z.string().optional(),
  strategy: z.string().optional(),
  notes: z.string().optional(),
}).catchall(jsonValue);
export type OwnerOnly = z.infer<typeof ownerOnlyValue>;

const futureDate = z.date().refine((d) => d.getTime() > Date.now(), { message: 'must be in the future' });

export const externalId = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const createSignalInput = z.object({
  instrument,
  side: signalSide,
  entryPrice: decimalString,
  payload: jsonObject.optional(),
  ownerOnly: ownerOnlyInput.optional(),
  externalId: externalId.optional(),
  expiresAt: futureDate.optional(),
});
export type CreateSignalInput = z.infer<typeof createSignalInput>;

export const signalId = z.uuid();

export const updateSignalInput = z.object({
  id: signalId,
  expectedVersion: z.number().int().min(1),
  patch: z
    .object({
      entryPrice: decimalString.optional(),
      payload: jsonObject.optional(),
      ownerOnly: ownerOnlyInput.nullable().optional(),
      expiresAt: futureDate.nullable().optional(),
    })
    .strict()
    .refine((p) => Object.keys(p).length > 0, { message: 'patch must change at least one field' }),
});

export const listSignalsInput = z
  .object({
    cursor: z.string().max(200).nullish(),
    limit: z.number().int().min(1).max(100).default(50),
    status: signalStatus.optional(),
    instrument: instrument.optional(),
    ownerId: z.uuid().optional(),
  })
  .default({ limit: 50 });

/**
 * Whether the owner-only payload exists, and whether it is still readable: `destroyed` after
 * crypto-shredding; `unreadable` in lists and live events when it failed to open (tampered,
 * misplaced, key missing), where `signals.byId` fails with the reason instead.
 */
export const ownerOnlyState = z.enum(['absent', 'present', 'destroyed', 'unreadable']);

const publicFields = {
  id: z.string(),
  ownerId: z.string(),
  instrument: z.string(),
  side: signalSide,
  entryPrice: z.string(),
  status: signalStatus,
  payload: z.record(z.string(), jsonValue),
  externalId: z.string().nullable(),
  version: z.number().int(),
  expiresAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
};

export const publicSignalView = z.object(publicFields);
export const ownerSignalView = z.object({
  ...publicFields,
  ownerOnly: ownerOnlyValue.nullable(),
  ownerOnlyState,
});
export type PublicSignalView = z.infer<typeof publicSignalView>;
export type OwnerSignalView = z.infer<typeof ownerSignalView>;

/** Owner view first: a public view never has `ownerOnlyState`, so it can only match the second. */
export const signalView = z.union([ownerSignalView, publicSignalView]);
export type SignalView = z.infer<typeof signalView>;

export const signalListOutput = z.object({ items: z.array(signalView), nextCursor: z.string().nullable() });
