import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { alertCheck } from '../../src/checks/alert.js';
import { AlertStore } from '../../src/store/alerts.js';
import { openDatabase } from '../../src/store/database.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';

test('an alert check disposed (removed or changed by a reload) no longer claims its alerts', async (t) => {
  const dir = tempDir(t);
  const db = openDatabase(join(dir, 'nightshift.db'));
  t.after(() => db.close());
  const alerts = new AlertStore(db);
  const env = testCheckEnv({ dataDir: dir, alerts }).env;
  const labels = { alertname: 'DiskFull', instance: 'db-2' };

  const probe = alertCheck.create(alertCheck.params.parse({ match: { alertname: 'DiskFull' } }), env);
  assert.equal(alerts.claimed(labels), true);
  assert.equal(alerts.isWanted(labels), true);

  await probe.dispose?.();
  assert.equal(alerts.claimed(labels), false, 'a catch-all check takes it again');
  assert.equal(alerts.isWanted(labels), false, 'it counts as unmatched again (the chat notice says so)');
});
