/**
 * The repair scanner lives in src/util/code-scanner.ts, the leaf layer, so
 * that the `scripts` check kind can scan generated scripts with the same
 * patterns: src/checks importing src/repair would be a folder cycle
 * (src/repair imports src/checks). This path stays for the repair code.
 */
export * from '../util/code-scanner.js';
