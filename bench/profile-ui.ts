/**
 * Profiling aid (not a test, not part of npm scripts): runs a few edits near the start and a few
 * toggles under Chromium's CPU profiler, and prints where the renderer's time goes (self time
 * per function, and the callers of the heaviest), with the engine's own time per reply and the
 * bytes per reply from the host side. Actions are 700 ms apart, so deferred work (head detail,
 * prefetched squares) lands between them and is counted too.
 *
 *   npx tsx bench/profile-ui.ts [--model bundled|gpt2SmallShape] [--tokens 64] [--case edit|toggle|append]
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { benchModelDir, textOfTokens } from '../src/bench/bench';
import { Engine } from '../src/engine/engine';
import { bundledModelDir } from '../src/engine/paths';
import { CHANNELS } from '../src/shared/api';
import { RENDERER_DIR, launchChromium, openApp, serveStatic } from '../test/helpers/browser-host';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? def) : def);
const MODEL = opt('--model', 'bundled');
const T = Number(opt('--tokens', '64'));
const CASE = opt('--case', 'edit');

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

async function main(): Promise<void> {
  const cacheRoot = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'attention-atlas');
  const engine = new Engine({ cacheDir: join(cacheRoot, 'graphs') });
  await engine.load(MODEL === 'bundled' ? bundledModelDir(process.cwd()) : benchModelDir(cacheRoot, console.error));
  const engineMs: number[] = [];
  const analyze = engine.analyze.bind(engine);
  engine.analyze = async (req) => {
    const t0 = performance.now();
    const r = await analyze(req);
    engineMs.push(performance.now() - t0);
    return r;
  };
  const bytes: number[] = [];
  const { server, url } = await serveStatic(RENDERER_DIR);
  const browser = await launchChromium();
  try {
    const { page } = await openApp(browser, url, engine, {
      onReply: (c, n) => {
        if (c === CHANNELS.analyze) bytes.push(n);
      },
    });
    await page.getByTestId('qk-grid').waitFor({ timeout: 120_000 });
    const input = page.getByTestId('text-input');
    let text = textOfTokens(engine, T, 1);
    await input.fill(text);
    await page.waitForTimeout(1500);
    if (CASE === 'toggle') {
      await input.press('Escape');
      await page.keyboard.press('4');
      await page.waitForTimeout(500);
    }
    engineMs.length = 0;
    bytes.length = 0;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
    const t0 = Date.now();
    for (let i = 0; i < 8; i++) {
      if (CASE === 'toggle') await page.keyboard.press(i % 2 ? 's' : 'm');
      else if (CASE === 'append') {
        await input.focus();
        await input.press('End');
        await page.keyboard.insertText(` ${String.fromCharCode(97 + i)}`);
      } else {
        const at = text.indexOf(' ') + 2;
        await input.evaluate((e: HTMLTextAreaElement, a) => e.setSelectionRange(a, a), at);
        await page.keyboard.insertText('x');
        text = `${text.slice(0, at)}x${text.slice(at)}`;
      }
      await page.waitForTimeout(700);
    }
    const wall = Date.now() - t0;
    const { profile } = (await cdp.send('Profiler.stop')) as {
      profile: { nodes: Node[]; samples: number[]; timeDeltas: number[] };
    };
    const self = new Map<string, number>();
    const dt = new Map<number, number>();
    profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    for (const n of profile.nodes) {
      const f = n.callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
      self.set(key, (self.get(key) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
    }
    const top = [...self.entries()]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, 30);
    console.log(`case ${CASE} model ${MODEL} T ${T}: wall ${wall} ms for 8 actions (700 ms wait each)`);
    console.log(`engine ms per analyze: ${engineMs.map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`bytes per reply: ${bytes.join(' ')}`);
    for (const [k, ms] of top) console.log(`${(ms / 8).toFixed(2).padStart(8)} ms/action  ${k}`);
    // Who calls the heaviest function: its callers' stacks, by time.
    const parent = new Map<number, number>();
    const full = profile.nodes as (Node & { children?: number[] })[];
    for (const n of full) for (const c of n.children ?? []) parent.set(c, n.id);
    const byId = new Map(full.map((n) => [n.id, n]));
    const heavy = top[0]?.[0].split(' ')[0];
    const stacks = new Map<string, number>();
    for (const n of full) {
      if ((n.callFrame.functionName || '(anon)') !== heavy) continue;
      const chain: string[] = [];
      for (let p = parent.get(n.id); p !== undefined && chain.length < 12; p = parent.get(p)) {
        const f = byId.get(p)?.callFrame;
        chain.push(`${f?.functionName || '(anon)'}:${f?.lineNumber}`);
      }
      const key = chain.join(' < ');
      stacks.set(key, (stacks.get(key) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
    }
    for (const [k, ms] of [...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4))
      console.log(`${(ms / 8).toFixed(1)} ms/action: ${heavy} < ${k}`);
  } finally {
    await browser.close();
    server.close();
    await engine.unload();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
