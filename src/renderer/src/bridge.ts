/**
 * The renderer's one way to the engine. In Electron the preload has set window.atlas; in a
 * browser host a transport carries packed messages to the same handlers, wrapped by the same
 * createApi the preload uses.
 */
import { createApi } from '../../preload/create-api';
import type { AtlasApi } from '../../shared/api';
import { fromBase64, pack, toBase64, unpack, type WireReply } from '../../shared/wire';

export function getAtlas(): AtlasApi | null {
  if (window.atlas) return window.atlas;
  const transport = window.__atlasTransport;
  if (!transport) return null;
  return createApi(async (channel, arg) => {
    const reply = unpack(fromBase64(await transport(channel, toBase64(pack(arg ?? null))))) as WireReply;
    if ('error' in reply) throw new Error(reply.error);
    return reply.ok;
  });
}
