/**
 * Node flags the API and the worker run with (scripts/start, the Dockerfile, docker-compose.yml, and the processes
 * the benchmark and the fault harness start). A 64 MB semi-space: both allocate fast and briefly (SQL text, rows,
 * JSON), and V8's default young generation made them collect garbage several times as often — the HTTP benchmark
 * measured 6.0 ms of API CPU per transition with the default and 4.8 ms with this (docs/PERFORMANCE.md).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
