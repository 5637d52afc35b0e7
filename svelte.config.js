/** Svelte 5 compiles `<script lang="ts">` natively; no preprocessors needed. */
export default {
  compilerOptions: { runes: true },
};
