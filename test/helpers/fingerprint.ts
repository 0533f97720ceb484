import type { TestApp } from './app.js';

/** One row over every table a request could write; compared as a whole. Account balances sum to zero by design,
 * so the absolute sum and a per-account checksum stand in for "SUM(balance_fen)". */
const FINGERPRINT_SQL = `SELECT
  (SELECT COUNT(*) FROM tasks) AS tasks,
  (SELECT CAST(COALESCE(SUM(version), 0) AS CHAR) FROM tasks) AS taskVersions,
  (SELECT COUNT(*) FROM task_events) AS taskEvents,
  (SELECT COUNT(*) FROM task_timers) AS taskTimers,
  (SELECT COUNT(*) FROM ledger_entries) AS ledgerEntries,
  (SELECT COUNT(*) FROM grants) AS grants,
  (SELECT CAST(COALESCE(SUM(spent_fen), 0) AS CHAR) FROM grants) AS grantSpent,
  (SELECT COUNT(*) FROM org_units) AS orgUnits,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT(id, name, disabled))), 0) AS CHAR) FROM org_units) AS orgUnitSum,
  (SELECT COUNT(*) FROM users) AS users,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT(id, display_name, roles, disabled, password_hash))), 0) AS CHAR) FROM users) AS userSum,
  (SELECT COUNT(*) FROM outbox) AS outbox,
  (SELECT COUNT(*) FROM notifications) AS notifications,
  (SELECT COUNT(*) FROM categories) AS categories,
  (SELECT COUNT(*) FROM powers) AS powers,
  (SELECT COUNT(*) FROM duties) AS duties,
  (SELECT COUNT(*) FROM calendar_days) AS calendarDays,
  (SELECT COUNT(*) FROM calendar_years) AS calendarYears,
  (SELECT COUNT(*) FROM workflow_versions) AS workflowVersions,
  (SELECT CAST(COALESCE(SUM(balance_fen), 0) AS CHAR) FROM accounts) AS balanceSum,
  (SELECT CAST(COALESCE(SUM(ABS(balance_fen)), 0) AS CHAR) FROM accounts) AS balanceAbs,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT(id, ':', balance_fen))), 0) AS CHAR) FROM accounts) AS accountSum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT(workflow_key, ':', draft, ':', latest_version))), 0) AS CHAR) FROM workflows) AS workflows`;

/**
 * A cheap fingerprint of everything a request could write (counts, versions, balances, checksums). Two equal
 * fingerprints around a refused request mean it wrote nothing.
 */
export async function dbFingerprint(t: TestApp): Promise<string> {
  return JSON.stringify(((await t.ds.query(FINGERPRINT_SQL)) as Record<string, unknown>[])[0]);
}
