import { AppError } from '../errors';

/**
 * The JSON text of a run's input (or of a request built from it), for a child's stdin or an
 * upstream request. Serialising is the step that can fail on a hostile input (nesting deep enough to
 * overflow the stack, which the trigger's depth limit normally refuses first): callers do it before
 * they start anything (a process, a request), so a failure never leaves one behind.
 */
export function serializeInput(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    const why = error instanceof RangeError ? 'it is nested too deeply' : (error as Error).message;
    throw new AppError('invalid_json', `the request body cannot be passed on to the pipeline: ${why}`);
  }
}
