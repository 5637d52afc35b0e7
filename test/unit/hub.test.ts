import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ENDPOINT,
  checkRepoId,
  findCachedSnapshots,
  hubCacheDir,
  hubEndpoint,
  hubToken,
  resolveUrl,
} from '../../src/engine/hub';
import { tempDir } from '../helpers/fixtures';

describe('Hugging Face Hub conventions', () => {
  it('honours HF_ENDPOINT (mirrors) and HF_TOKEN as huggingface_hub does', () => {
    expect(hubEndpoint({})).toBe(DEFAULT_ENDPOINT);
    expect(hubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.com/' })).toBe('https://hf-mirror.com');
    expect(hubToken({})).toBeNull();
    expect(hubToken({ HF_TOKEN: ' hf_abc ' })).toBe('hf_abc');
    expect(hubToken({ HUGGING_FACE_HUB_TOKEN: 'hf_old' })).toBe('hf_old');
    expect(resolveUrl('https://hf-mirror.com', 'openai-community/gpt2', 'main', 'config.json')).toBe(
      'https://hf-mirror.com/openai-community/gpt2/resolve/main/config.json',
    );
  });

  it('finds the cache where huggingface_hub puts it', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/x/hub' })).toBe('/x/hub');
    expect(hubCacheDir({ HF_HOME: '/y' })).toBe(join('/y', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/z' })).toBe(join('/z', 'huggingface', 'hub'));
  });

  it('rejects ids and revisions that are not ids', () => {
    for (const bad of ['gpt2', '../etc/passwd', 'a/b/c', 'a/../b', '/abs'])
      expect(() => checkRepoId(bad)).toThrow(/not a Hugging Face model id/);
    expect(() => resolveUrl(DEFAULT_ENDPOINT, 'a/b', '../../x', 'config.json')).toThrow(/not a valid revision/);
  });

  it('lists complete GPT-2 snapshots in the local cache, following its blob symlinks', () => {
    const cache = tempDir();
    const snap = (repo: string, rev: string, files: string[]): void => {
      const base = join(cache, `models--${repo.replace('/', '--')}`);
      const dir = join(base, 'snapshots', rev);
      mkdirSync(dir, { recursive: true });
      mkdirSync(join(base, 'blobs'), { recursive: true });
      for (const f of files) {
        writeFileSync(join(base, 'blobs', `${rev}-${f}`), 'x');
        symlinkSync(join('..', '..', 'blobs', `${rev}-${f}`), join(dir, f));
      }
    };
    snap('openai-community/gpt2', '607a30d783dfa663caf39e06633721c8d4cfcd7e', ['config.json', 'model.safetensors']);
    snap('distilbert/distilgpt2', 'abc', ['config.json']); // incomplete: no weights
    mkdirSync(join(cache, 'datasets--x--y'), { recursive: true });
    // A dangling link (blob deleted) is not a usable snapshot.
    snap('someone/broken', 'r1', ['config.json']);
    symlinkSync(
      join('..', '..', 'blobs', 'missing'),
      join(cache, 'models--someone--broken', 'snapshots', 'r1', 'model.safetensors'),
    );
    expect(findCachedSnapshots(cache)).toEqual([
      {
        repo: 'openai-community/gpt2',
        revision: '607a30d783dfa663caf39e06633721c8d4cfcd7e',
        dir: join(cache, 'models--openai-community--gpt2', 'snapshots', '607a30d783dfa663caf39e06633721c8d4cfcd7e'),
      },
    ]);
    expect(findCachedSnapshots(join(cache, 'nowhere'))).toEqual([]);
  });
});
