/** How token text is drawn: spaces, tabs and newlines made visible, so " cat" ≠ "cat". */
export function visibleToken(display: string): string {
  return display.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥');
}
