/**
 * `atlas-model.json` beside a model's weights: how the app names it and, for downloads, where it
 * came from. Optional and untrusted: anything missing or malformed reads as absent.
 */
import { readRegularFile } from './regular-file';
import { join } from 'node:path';

export interface ModelMeta {
  id?: string;
  label?: string;
  description?: string;
  /** The Hub repository a downloaded model came from. */
  sourceRepo?: string;
  /** `"defaultHead": {"layer": 3, "head": 2}`: the head the attention view opens on. */
  defaultHead?: { layer: number; head: number };
}

export function readModelMeta(dir: string): ModelMeta {
  try {
    const raw: unknown = JSON.parse(readRegularFile(join(dir, 'atlas-model.json')).toString('utf8'));
    if (typeof raw !== 'object' || raw === null) return {};
    const r = raw as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const source = typeof r.source === 'object' && r.source !== null ? (r.source as Record<string, unknown>) : {};
    const index = (v: unknown): number | undefined => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : undefined);
    const dh = typeof r.defaultHead === 'object' && r.defaultHead !== null ? (r.defaultHead as Record<string, unknown>) : {};
    const layer = index(dh.layer);
    const head = index(dh.head);
    return {
      id: str(r.id),
      label: str(r.label),
      description: str(r.description),
      sourceRepo: str(source.repo),
      defaultHead: layer !== undefined && head !== undefined ? { layer, head } : undefined,
    };
  } catch {
    return {};
  }
}
