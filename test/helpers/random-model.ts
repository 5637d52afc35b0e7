/** The seeded random checkpoints live with the benchmark, which needs them too. */
export * from '../../src/bench/random-model';
