// Writes numbered lines ("line 000001 ...") until argv[2] lines are out, then exits 0.
// Each line is 64 bytes so tests can reason about sizes.
const count = Number(process.argv[2] ?? '1000');
const pad = 'x'.repeat(64 - 'line 000000 \n'.length);
let chunk = '';
for (let i = 1; i <= count; i++) {
  chunk += `line ${String(i).padStart(6, '0')} ${pad}\n`;
  if (chunk.length >= 8192 || i === count) {
    process.stdout.write(chunk);
    chunk = '';
  }
}
