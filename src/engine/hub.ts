/**
 * The Hugging Face Hub, the way huggingface_hub sees it: HF_ENDPOINT (mirrors), HF_TOKEN, the
 * resolve URLs, and the local cache (HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub, laid out as models--org--name/snapshots/<revision>/).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** The files a GPT-2 checkpoint needs, in download order (small first: it pins the revision). */
export const MODEL_FILES = ['config.json', 'model.safetensors'] as const;

export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** HF_TOKEN, as huggingface_hub reads it (HUGGING_FACE_HUB_TOKEN is its older name). */
export function hubToken(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim() || null;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;
const REVISION = /^[\w.\-/]{1,100}$/;

export function checkRepoId(repo: string): string {
  if (!REPO_ID.test(repo) || repo.includes('..'))
    throw new Error(`"${repo}" is not a Hugging Face model id (expected owner/name)`);
  return repo;
}

export function checkRevision(revision: string): string {
  if (!REVISION.test(revision) || revision.includes('..')) throw new Error(`"${revision}" is not a valid revision`);
  return revision;
}

export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint}/${checkRepoId(repo)}/resolve/${encodeURIComponent(checkRevision(revision))}/${file}`;
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

export interface CachedSnapshot {
  repo: string;
  revision: string;
  dir: string;
}

/** GPT-2-layout snapshots already in the Hugging Face cache (config.json + model.safetensors). */
export function findCachedSnapshots(cacheDir: string = hubCacheDir()): CachedSnapshot[] {
  if (!existsSync(cacheDir)) return [];
  const out: CachedSnapshot[] = [];
  for (const entry of readdirSync(cacheDir)) {
    const m = /^models--([^-].*?)--(.+)$/.exec(entry);
    if (!m) continue;
    const snapshots = join(cacheDir, entry, 'snapshots');
    if (!existsSync(snapshots)) continue;
    for (const revision of readdirSync(snapshots)) {
      const dir = join(snapshots, revision);
      // statSync follows the cache's symlinks into blobs/: a dangling link means an incomplete snapshot.
      const complete = MODEL_FILES.every((f) => {
        try {
          return statSync(join(dir, f)).isFile();
        } catch {
          return false;
        }
      });
      if (complete) out.push({ repo: `${m[1]}/${m[2]}`, revision, dir });
    }
  }
  return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.revision.localeCompare(b.revision));
}

export interface CatalogueEntry {
  repo: string;
  revision: string;
  label: string;
  description: string;
  /** Approximate size of model.safetensors, for the library and the disk-space check. */
  approxBytes: number;
  params: number;
  shape: { nLayer: number; nHead: number; dModel: number; nCtx: number };
}

/** The GPT-2 models the library offers to download. */
export const CATALOGUE: CatalogueEntry[] = [
  {
    repo: 'openai-community/gpt2',
    revision: 'main',
    label: 'GPT-2 small (OpenAI)',
    description: 'The original 124M-parameter GPT-2: 12 layers × 12 heads, 1024-token context.',
    approxBytes: 548_000_000,
    params: 124_000_000,
    shape: { nLayer: 12, nHead: 12, dModel: 768, nCtx: 1024 },
  },
  {
    repo: 'distilbert/distilgpt2',
    revision: 'main',
    label: 'DistilGPT2',
    description: 'GPT-2 small distilled to 6 layers × 12 heads (82M parameters); faster, a little less fluent.',
    approxBytes: 353_000_000,
    params: 82_000_000,
    shape: { nLayer: 6, nHead: 12, dModel: 768, nCtx: 1024 },
  },
  {
    repo: 'openai-community/gpt2-medium',
    revision: 'main',
    label: 'GPT-2 medium (OpenAI)',
    description: 'The 355M-parameter GPT-2: 24 layers × 16 heads; slower, with more structure to find.',
    approxBytes: 1_520_000_000,
    params: 355_000_000,
    shape: { nLayer: 24, nHead: 16, dModel: 1024, nCtx: 1024 },
  },
];
