import { Observable, type OperatorFunction } from 'rxjs';

/**
 * The one helper every stage operator is built on: a synchronous step that
 * takes an item and emits zero or more. A step must not throw; a failing
 * message is the step's to route (dead letter), so the stream never tears down.
 */
export function operate<T, R>(step: (item: T, emit: (out: R) => void) => void): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const emit = (out: R): void => subscriber.next(out);
      return source.subscribe({
        next: (item) => step(item, emit),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
