import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
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
