// Shapes the drift monitor shares with its caller; re-exported by drift-monitor.ts, the module's public face.

export interface DriftTensorSpec {
  name: string;
  /** -1 for variable dims; the first dim is the batch dim. */
  shape: number[];
  kind: 'bool' | 'int' | 'bigint' | 'float' | 'string';
}

/** A request's or batch's tensor, row-major. */
export interface DriftTensor {
  name: string;
  dims: number[];
  data: ArrayLike<number | bigint> | string[];
}

export interface GaugeLike {
  set(value: number): void;
}

/** Numeric tensor data: typed arrays of numbers or bigints. */
export type NumericData = ArrayLike<number | bigint>;
