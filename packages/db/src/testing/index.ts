export { createTestDatabase, testServerUrl, withDatabase, TEST_DATABASE_PREFIX } from './test-database.js';
export type { TestDatabase } from './test-database.js';
