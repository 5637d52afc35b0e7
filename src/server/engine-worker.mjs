// The engine worker's entry as Node starts it (see engine-client.ts). Like bin/atlas.mjs it runs
// the TypeScript through tsx, so browser mode needs no build step and works from a fresh clone
// after `npm install`; a worker thread does not inherit the loader its parent registered, so it
// registers its own.
import { register } from 'tsx/esm/api';

register();
await import('./engine-worker.ts');
