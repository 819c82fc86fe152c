// Fixed HTTP limits, shared by the Express app and the error messages.

/** Large enough for a 16 KiB owner-only payload in JSON plus the rest of a signal. */
export const MAX_BODY_BYTES = 256 * 1024;
