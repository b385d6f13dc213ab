// The one Node module the Worker uses (nodejs_compat; workerd implements it natively):
// its two functions are declared here rather than pulling @types/node into the Worker's
// types, where Node's globals would mask the Workers' ones.
declare module "node:zlib" {
  export function deflateRawSync(data: Uint8Array): Uint8Array;
  export function inflateRawSync(data: Uint8Array): Uint8Array;
}
