// A chaos run's recorded history: every request and its answer, every write (with the item as
// it was after the write, where the write changed it), every driver step, every fault, and
// the table's final state. Times are epoch ms of the run's clock; `seq` orders events as they
// were recorded.

export interface Actor {
  readonly role: 'api' | 'worker' | 'sweeper' | 'dlq' | 'harness';
  readonly id: string;
  /** A worker's operation. */
  readonly requestId?: string;
  readonly instanceId?: string;
  readonly token?: number;
  /** Made by the driver inside its operation (a side effect of it). */
  readonly driver?: boolean;
}

export interface RequestEvent {
  readonly kind: 'request';
  readonly seq: number;
  readonly client: string;
  /** The workload's name for it: a catalogue operation, or 'lock', ... */
  readonly op: string;
  readonly instanceId?: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly idempotencyKey?: string;
  readonly start: number;
  readonly end: number;
  readonly status: number;
  readonly requestId?: string;
  readonly answer?: unknown;
}

export interface WriteEvent {
  readonly kind: 'write';
  readonly seq: number;
  readonly start: number;
  readonly end: number;
  readonly actor: Actor;
  readonly command: 'Put' | 'Update' | 'Delete';
  readonly pk: string;
  readonly sk: string;
  /** It changed the item (its condition held). */
  readonly ok: boolean;
  /** The item after the write (Put and Update that succeeded). */
  readonly after?: Record<string, any>;
  /** The values its condition compared with (":request" and the like). */
  readonly values?: Record<string, unknown>;
}

export interface StepRecord {
  readonly kind: 'step';
  readonly seq: number;
  readonly at: number;
  readonly actor: Actor;
  readonly op: string;
  readonly requestId: string;
  readonly instanceId: string;
  readonly step: string;
  readonly phase: 'start' | 'passed' | 'refused' | 'end';
}

export interface FaultRecord {
  readonly kind: 'fault';
  readonly seq: number;
  readonly at: number;
  readonly fault: string;
  readonly detail: Record<string, unknown>;
}

/** The table after quiescence. */
export interface FinalState {
  readonly kind: 'final';
  readonly seq: number;
  readonly at: number;
  readonly items: readonly Record<string, any>[];
}

export type HistoryEvent = RequestEvent | WriteEvent | StepRecord | FaultRecord | FinalState;
