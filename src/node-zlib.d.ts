// The one Node module the Worker uses (nodejs_compat; workerd implements it natively):
// its two functions are declared here rather than pulling @types/node into the Worker's
// types, where Node's globals would mask the Workers' ones.
declare module "node:zlib" {
  /** A preset dictionary: strings the data is likely to repeat. */
  export interface ZlibOptions {
    dictionary?: Uint8Array;
    /** log2 of the window: 8-15 (default 15, 32 KiB). */
    windowBits?: number;
    /** 1-9: the size of deflate's hash (default 8). */
    memLevel?: number;
  }
  export function deflateRawSync(data: Uint8Array, options?: ZlibOptions): Uint8Array;
  export function inflateRawSync(data: Uint8Array, options?: ZlibOptions): Uint8Array;
}
