import base from "./vitest.config";

// bench/storage.test.ts in the Workers runtime (npm run bench runs it; not part of the
// test suite): the pool and bindings of vitest.config.ts, only that file included.
export default async (env: Parameters<Extract<typeof base, (...args: never[]) => unknown>>[0]) => {
  const config = await (base as (e: typeof env) => Promise<Record<string, unknown> & { test: Record<string, unknown> }>)(env);
  return {
    ...config,
    define: {
      __BENCH_STORAGE_DAYS__: JSON.stringify(process.env.BENCH_STORAGE_DAYS ?? "365"),
      __BENCH_STORAGE_PER_TYPE__: JSON.stringify(process.env.BENCH_STORAGE_PER_TYPE ?? "1"),
    },
    test: { ...config.test, include: ["bench/storage.test.ts"], exclude: [] },
  };
};
