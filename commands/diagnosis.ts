import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { UserError } from '../src/errors.js';

/** /diagnosis [id]: a diagnosis whole (the chat message is its one-screen summary); the newest one without an id. */
export const diagnosisCommand = defineCommand({
  name: 'diagnosis',
  description: 'Show a diagnosis whole: every chain, its evidence, the model’s answer',
  args: z.object({ id: z.string().optional().describe('diagnosis number, as in "Diagnosis #12" (default: the newest)') }),
  role: 'viewer',
  run({ services }, args) {
    const raw = args.id?.replace(/^#/, '');
    if (raw !== undefined && !/^\d{1,9}$/.test(raw))
      throw new UserError('bad_diagnosis_id', `"${args.id}" is not a diagnosis number: /diagnosis 12 shows Diagnosis #12.`);
    const id = raw === undefined ? services.diagnosis.latestDiagnosisId() : Number(raw);
    if (id === undefined) return { text: 'No diagnosis yet: /diagnose makes one (with the analysis consent granted).' };
    const found = services.diagnosis.diagnosis(id);
    if (!found) throw new UserError('no_such_diagnosis', `No diagnosis #${id}. The newest is #${services.diagnosis.latestDiagnosisId() ?? 'none yet'}.`);
    return { text: `Diagnosis #${found.id} (${new Date(found.at).toISOString()}):\n${found.text}` };
  },
});
