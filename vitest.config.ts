import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Everything the tests write to the temporary folder goes in one per run, removed at its end.
    globalSetup: ['test/helpers/temp-root.ts'],
    environment: 'node',
    // Engine tests build ONNX graphs and start sessions; the browser tests start Chromium.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: run test files two at a time at most.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
