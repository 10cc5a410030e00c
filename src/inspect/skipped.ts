// Objects the cluster source skipped, and why: the last MAX_KEPT, for the inspection report. The sources
// also log each one ("object skipped", "manifest object skipped") and count it in
// kdns_kubernetes_rejected_objects_total; this keeps the reasons where the dashboard can show them.

const MAX_KEPT = 100;

export interface SkippedObject {
  /** Kind and namespace/name (live source) or file#document (manifests). */
  object: string;
  problem: string;
  /** Milliseconds since the epoch. */
  at: number;
}

export class SkippedObjects {
  private readonly kept = new Map<string, SkippedObject>();

  /** A later report on the same object replaces the earlier one. */
  add(object: string, problem: string): void {
    this.kept.delete(object);
    this.kept.set(object, { object, problem, at: Date.now() });
    if (this.kept.size > MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
  }

  /** The object is fine again (updated into a valid one, or deleted). */
  clear(object: string): void {
    this.kept.delete(object);
  }

  /** Every entry whose object starts with `prefix` (a manifest file read again). */
  clearPrefix(prefix: string): void {
    for (const object of [...this.kept.keys()]) if (object.startsWith(prefix)) this.kept.delete(object);
  }

  list(): SkippedObject[] {
    return [...this.kept.values()];
  }
}
