import { ackCommand } from './ack.js';
import { applyCommand } from './apply.js';
import { approveCommand } from './approve.js';
import { consentCommand } from './consent.js';
import { diagnoseCommand } from './diagnose.js';
import { diagnosisCommand } from './diagnosis.js';
import { proposalsCommand } from './proposals.js';
import { scoreCommand } from './score.js';
import { regretCommand } from './regret.js';
import { flagsCommand } from './flags.js';
import { briefingCommand } from './briefing.js';
import { disableSurgeryCommand } from './disable-surgery.js';
import { enableSurgeryCommand } from './enable-surgery.js';
import { healCommand } from './heal.js';
import { helpCommand } from './help.js';
import { incidentsCommand } from './incidents.js';
import { muteCommand } from './mute.js';
import { silenceCommand } from './silence.js';
import { silencesCommand } from './silences.js';
import { unsilenceCommand } from './unsilence.js';
import { rejectCommand } from './reject.js';
import { repairsCommand } from './repairs.js';
import { rollbackCommand } from './rollback.js';
import { statusCommand } from './status.js';
import type { AnyCommand } from '../src/bot/command.js';

/**
 * Every chat command, in the order /help lists them. Discord slash commands,
 * Telegram's menu and ntfy reply words are generated from this one list.
 */
export const commands: readonly AnyCommand[] = [
  statusCommand,
  incidentsCommand,
  ackCommand,
  muteCommand,
  silenceCommand,
  silencesCommand,
  unsilenceCommand,
  healCommand,
  disableSurgeryCommand,
  enableSurgeryCommand,
  consentCommand,
  diagnoseCommand,
  diagnosisCommand,
  proposalsCommand,
  approveCommand,
  rejectCommand,
  applyCommand,
  repairsCommand,
  rollbackCommand,
  regretCommand,
  flagsCommand,
  scoreCommand,
  briefingCommand,
  helpCommand,
];
