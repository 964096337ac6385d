/**
 * Refuses a request locally, with INVALID_ARGUMENT, when the broker would refuse its header for its
 * shape (protocol-spec 3, "Nesting" and "Size"): there that is FRAME_ERROR, which closes the whole
 * connection. The frame object is laid out as the writer sends it (headerOf, FRAME_SCHEMA's order),
 * so each field's maps are measured at the depth the frame type puts them: QUEUE_DECLARE's and
 * EXCHANGE_DECLARE's arguments inside their options (level 3), the bindings' arguments directly in
 * the header (level 2). Only topology and subscribe calls go through here, never a publish.
 */
import { errors, headerOf, headerShapeProblem, type Frame, type WarrenError } from '@warren/protocol';

/** The request id slot holds a placeholder: one value, no depth. */
export const ANY_REQUEST_ID = 1;

/** INVALID_ARGUMENT naming `what` (the call) when `frame`'s header is over a bound, else undefined. */
export function headerShapeError(frame: Frame, what: string): WarrenError | undefined {
  const problem = headerShapeProblem(headerOf(frame));
  return problem === undefined ? undefined : errors.invalidArgument(`${what}: its options and arguments would ${problem}`);
}
