/**
 * The renderer's one way to the engine. In Electron the preload has set window.atlas; in a
 * browser every call goes through the same createApi the preload uses, with invoke carried
 * either by a test host's binding (window.__atlasTransport) or over HTTP to `atlas serve`.
 */
import { createApi } from '../../preload/create-api';
import { CHANNELS, type AtlasApi, type SaveFileRequest, type SaveResult } from '../../shared/api';
import { fromBase64, pack, toBase64, unpack, type WireReply } from '../../shared/wire';

function reply(r: WireReply): unknown {
  if ('error' in r) throw new Error(r.error);
  return r.ok;
}

/** One id per tab, so the server can let a newer analysis supersede this tab's older one. */
function clientId(): string {
  const key = 'atlas-client';
  let id = sessionStorage.getItem(key);
  if (!id) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
    sessionStorage.setItem(key, id);
  }
  return id;
}

function httpApi(): AtlasApi {
  const client = clientId();
  return createApi(async (channel, arg) => {
    // A browser cannot be handed a save dialog: files the page made are downloaded right here.
    if (channel === CHANNELS.saveFile) {
      const req = arg as SaveFileRequest;
      return { savedTo: null, download: { name: req.suggestedName, bytes: req.bytes } } satisfies SaveResult;
    }
    const res = await fetch(`api/${channel}`, {
      method: 'POST',
      // The custom header and content type make this a request no cross-site page can send.
      headers: { 'content-type': 'application/octet-stream', 'x-atlas-api': '1', 'x-atlas-client': client },
      body: pack(arg ?? null) as BodyInit,
    });
    if (res.headers.get('content-type') === 'application/octet-stream') {
      return reply(unpack(new Uint8Array(await res.arrayBuffer())) as WireReply);
    }
    throw new Error(`${res.status}: ${await res.text()}`);
  });
}

export function getAtlas(): AtlasApi | null {
  if (window.atlas) return window.atlas;
  const transport = window.__atlasTransport;
  if (transport) {
    return createApi(async (channel, arg) =>
      reply(unpack(fromBase64(await transport(channel, toBase64(pack(arg ?? null))))) as WireReply),
    );
  }
  if (location.protocol === 'http:' || location.protocol === 'https:') return httpApi();
  return null;
}
