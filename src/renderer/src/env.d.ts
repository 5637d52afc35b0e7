/// <reference types="svelte" />
/// <reference types="vite/client" />
import type { AtlasApi } from '../../shared/api';

declare global {
  interface Window {
    /** Set by the Electron preload. */
    atlas?: AtlasApi;
    /**
     * Set by browser hosts (tests, web mode): carries one packed request (base64, see
     * shared/wire.ts) to the main-side handlers and returns the packed reply.
     */
    __atlasTransport?: (channel: string, request: string) => Promise<string>;
  }
}
export {};
