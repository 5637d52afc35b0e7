// Node loader hook: resolve the bare specifier "electron" to the recording stand-in.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
