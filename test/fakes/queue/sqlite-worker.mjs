// A pipeline worker as the agents run one: it keeps its own connection to the task database open in WAL mode
// while Nightshift reads and heals. Commands arrive as JSON lines on stdin; each is answered by one JSON line.
//   {"op":"exec","sql":"...","params":[...]}  runs a statement: {"changes":n}
//   {"op":"hold","ms":300}                     takes the write lock (BEGIN IMMEDIATE) for ms: {"holding":true}, then {"released":true}
// The database path is the first argument; stdin closing ends the worker.
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]);
db.pragma('journal_mode = WAL');
const reply = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
reply({ ready: true, journalMode: db.pragma('journal_mode', { simple: true }) });

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  try {
    if (command.op === 'exec') {
      reply({ changes: db.prepare(command.sql).run(...(command.params ?? [])).changes });
    } else if (command.op === 'hold') {
      db.exec('BEGIN IMMEDIATE');
      reply({ holding: true });
      await new Promise((resolve) => setTimeout(resolve, command.ms));
      db.exec('COMMIT');
      reply({ released: true });
    } else {
      reply({ error: `unknown op ${command.op}` });
    }
  } catch (err) {
    reply({ error: err.message });
  }
}
db.close();
