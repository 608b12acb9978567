// A segment is a run of steps that execute once per foreach split inside one Dagster
// `.map()` (Dagster cannot nest dynamic mappings, so every segment maps over a
// top-level dynamic source). The analysis pass decides each step's segment once; every
// later pass reads it by kind.

export type Segment =
  /** Started by a foreach's split: the steps run once per split of `foreach`. */
  | { kind: "body"; foreach: string }
  /**
   * Started by `step`, whose inputs must be regrouped per split first (a nested foreach
   * join, or a step whose inputs come from different segments).
   */
  | { kind: "inputs"; step: string };

/** The step a segment is named after: the foreach that splits, or the regrouped step. */
export function segmentOwner(segment: Segment): string {
  return segment.kind === "body" ? segment.foreach : segment.step;
}

/** A stable key (and readable label), `body:<foreach>` or `inputs:<step>`, for maps. */
export function segmentKey(segment: Segment): string {
  return `${segment.kind}:${segmentOwner(segment)}`;
}

export function sameSegment(a: Segment | null, b: Segment | null): boolean {
  if (a === null || b === null) return a === b;
  return a.kind === b.kind && segmentOwner(a) === segmentOwner(b);
}

/** The segment that regroups `step`'s own inputs (`inputs:<step>`). */
export function regroups(segment: Segment | null, step: string): boolean {
  return segment !== null && segment.kind === "inputs" && segment.step === step;
}
